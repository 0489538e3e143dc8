"""Monitoring: the stored monitoring runs per environment, their breaches, actions and drift.

Reads the monitoring reports that `python run.py monitor` (or the scheduled workflow) stored in
MLflow, through `mlcicd.monitoring.history.recent_reports`; cells are formatted by the same
functions as the HTML and Markdown reports, so a PSI reads the same everywhere. Nothing on this
page changes state. The plots span the windows of the selected run and of the runs before it.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd
import streamlit as st

from console import context as data
from mlcicd.reporting.drift import FeatureDrift
from mlcicd.reporting.formatting import format_count, format_delta, format_metric
from mlcicd.reporting.monitoring import MonitoringReport, MonitoringWindow, OnlineMetrics
from mlcicd.reporting.monitoring_formatting import (
    ACTION_COLUMNS,
    BREACH_COLUMNS,
    DRIFT_COLUMNS,
    WINDOW_COLUMNS,
    action_cells,
    breach_cells,
    breach_rows,
    chart_title,
    drift_facts,
    feature_cells,
    feature_verdict_text,
    highest_psi,
    monitoring_verdict,
    newest_first,
    sorted_features,
    window_cells,
    window_summary,
    window_time,
)

ENVIRONMENTS = ("production", "staging")
TREND_HEIGHT = 200
SHARES_HEIGHT = 260
REFERENCE_COLOR, CURRENT_COLOR = "#8c8c8c", "#e8710a"
SELECTED, EARLIER = "selected run", "earlier runs"
REQUESTS, ERROR_RATE, P99 = "requests", "server error rate", "p99 ms"
MAX_PSI, PREDICTION_PSI = "max input PSI", "prediction PSI"

ctx = data.context()
name = ctx.config.model_name
st.title("Monitoring")
if st.button("Refresh", icon=":material/refresh:"):
    data.refresh()
st.caption(
    f"Monitoring runs of **{name}** as `python run.py monitor` stored them in MLflow, newest "
    "first. This page only reads; the actions were decided and taken by the monitor."
)


# --- charts --------------------------------------------------------------------------------------


def trend_frame(reports: Sequence[MonitoringReport]) -> pd.DataFrame:
    """One row per window of the given runs (the first is the selected one; its view wins)."""
    seen: dict[str, tuple[MonitoringWindow, str]] = {}
    for position, report in enumerate(reports):
        for window in report.windows:
            seen.setdefault(window.start, (window, SELECTED if position == 0 else EARLIER))
    rows = []
    for start in sorted(seen):
        window, run = seen[start]
        top = highest_psi(window.drift)
        prediction = window.drift.prediction
        rows.append(
            {
                "window": pd.Timestamp(start),
                "run": run,
                REQUESTS: window.traffic.requests,
                ERROR_RATE: window.traffic.error_rate,
                P99: window.traffic.p99_ms,
                MAX_PSI: top.psi if top is not None else None,
                "column": top.feature if top is not None else "",
                PREDICTION_PSI: prediction.psi if prediction is not None else None,
            }
        )
    columns = ["window", "run", REQUESTS, ERROR_RATE, P99, MAX_PSI, "column", PREDICTION_PSI]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({REQUESTS: float, ERROR_RATE: float, P99: float, MAX_PSI: float,
                         PREDICTION_PSI: float})  # fmt: skip


def trend_chart(frame: pd.DataFrame, metric: str, limit: float | None, percent: bool) -> alt.Chart:
    """One metric over the windows: a line, a point per window (coloured by run), the limit."""
    axis = alt.Axis(format=".1%") if percent else alt.Axis()
    base = alt.Chart(frame).encode(
        x=alt.X("window:T", title="window start (UTC)"),
        y=alt.Y(f"{metric}:Q", title=metric, axis=axis),
    )
    tooltip = ["window:T", "run:N", alt.Tooltip(f"{metric}:Q", format=".4g")]
    if metric == MAX_PSI:
        tooltip.append("column:N")
    points = base.mark_point(filled=True, size=50).encode(
        color=alt.Color(
            "run:N",
            scale=alt.Scale(domain=[SELECTED, EARLIER], range=[CURRENT_COLOR, REFERENCE_COLOR]),
            legend=alt.Legend(orient="bottom", title=None),
        ),
        tooltip=tooltip,
    )
    chart = base.mark_line(color=REFERENCE_COLOR) + points
    if limit is not None:
        rule = alt.Chart(pd.DataFrame({"limit": [limit]})).mark_rule(
            strokeDash=[4, 4], color="#d62728"
        )
        chart = chart + rule.encode(y="limit:Q")
    return chart.properties(height=TREND_HEIGHT, title=metric)


def trends(reports: Sequence[MonitoringReport]) -> None:
    """Requests, 5xx rate, p99, the highest input PSI and the prediction PSI per window."""
    frame = trend_frame(reports)
    if frame.empty:
        st.caption("No window with traffic in this run or the runs before it.")
        return
    limits = ctx.config.monitoring.thresholds
    drift = ctx.config.drift
    psi_limit = (
        drift.numeric.max_psi if drift.numeric.max_psi == drift.categorical.max_psi else None
    )
    charts = [
        (REQUESTS, None, False),
        (ERROR_RATE, limits.max_error_rate, True),
        (P99, None, False),
        (MAX_PSI, psi_limit, False),
        (PREDICTION_PSI, limits.max_prediction_psi, False),
    ]
    slots = [*st.columns(3), *st.columns(3)]
    for slot, (metric, limit, percent) in zip(slots, charts, strict=False):
        slot.altair_chart(trend_chart(frame, metric, limit, percent), width="stretch")
    st.caption(
        f"{len(frame)} window(s) of the selected run and the {len(reports) - 1} run(s) before "
        "it; a window two runs both saw is shown as the newer one judged it. Dashed: the limit "
        "in this console's config (`monitoring.thresholds`, `drift`); the p99 limit depends on "
        "the champion's smoke-tested latency, see the breaches."
    )


def shares_chart(
    feature: FeatureDrift, reference: str = "training data", current: str = "this window"
) -> None:
    """Reference against current share of rows per bin, as grouped bars in the bins' order."""
    if not feature.bins:
        st.caption(f"{feature.feature}: no bins were compared ({feature_verdict_text(feature)}).")
        return
    frame = pd.DataFrame(
        {
            "bin": feature.bins,
            reference: feature.reference_shares,
            current: feature.current_shares,
        }
    )
    frame = frame[(frame[reference] > 0) | (frame[current] > 0)]
    long = frame.melt(id_vars="bin", var_name="data", value_name="share of rows")
    sides = (reference, current)
    chart = (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("bin:N", sort=list(frame["bin"]), title=None, axis=alt.Axis(labelAngle=-40)),
            xOffset=alt.XOffset("data:N", sort=[*sides]),
            y=alt.Y("share of rows:Q", axis=alt.Axis(format=".0%")),
            color=alt.Color(
                "data:N",
                scale=alt.Scale(domain=[*sides], range=[REFERENCE_COLOR, CURRENT_COLOR]),
                legend=alt.Legend(orient="top", title=None),
            ),
            tooltip=["bin:N", "data:N", alt.Tooltip("share of rows:Q", format=".1%")],
        )
        .properties(height=SHARES_HEIGHT, title=chart_title(feature))
    )
    st.altair_chart(chart, width="stretch")
    st.caption(feature_verdict_text(feature))


# --- sections ------------------------------------------------------------------------------------


def headline(report: MonitoringReport) -> None:
    """The verdict, the champion and the time span, then what was read."""
    champion = f"v{report.champion_version}" if report.champion_version else "no champion"
    text = (
        f"**{monitoring_verdict(report)}** · champion {champion} · "
        f"{window_time(report.since)} → {window_time(report.until)} UTC"
    )
    if report.healthy and report.windows:
        st.success(text, icon=":material/check_circle:")
    elif report.healthy:
        st.info(text, icon=":material/info:")
    else:
        st.error(text, icon=":material/error:")
    read = f"{format_count(report.lines_read)} log line(s) read"
    if report.lines_skipped:
        read += f", {format_count(report.lines_skipped)} skipped"
    st.caption(
        f"Run of {report.created_at} · {len(report.windows)} window(s) of "
        f"{report.window_minutes} min with traffic · {read} · "
        f"sources: {', '.join(f'`{s}`' for s in report.sources) or 'none'}"
    )


def breaches_and_actions(report: MonitoringReport) -> None:
    """Every threshold crossed, with the config key behind it; the actions and their outcomes."""
    rows = breach_rows(report)
    st.subheader("Breaches")
    if rows:
        st.dataframe(
            pd.DataFrame([breach_cells(w, b) for w, b in rows], columns=BREACH_COLUMNS.header),
            hide_index=True,
        )
    else:
        st.caption("No threshold was crossed in this run.")
    st.subheader("Actions")
    if report.actions:
        st.dataframe(
            pd.DataFrame([action_cells(a) for a in report.actions], columns=ACTION_COLUMNS.header),
            hide_index=True,
        )
    else:
        st.caption("No action was needed.")


def online_metrics(online: OnlineMetrics) -> None:
    """Accuracy and ROC AUC on the delayed labels, against the version's golden-set numbers."""
    pairs = [
        ("Online accuracy", online.accuracy, online.golden_accuracy),
        ("Online ROC AUC", online.roc_auc, online.golden_roc_auc),
    ]
    columns = st.columns(3)
    columns[0].metric("Labelled rows", format_count(online.labelled_rows))
    for column, (label, value, golden) in zip(columns[1:], pairs, strict=True):
        delta = None if value is None or golden is None else value - golden
        column.metric(
            label,
            format_metric(value),
            delta=None if delta is None else format_delta(delta),
            delta_description=None if golden is None else f"vs golden set {format_metric(golden)}",
        )
    if online.note:
        st.caption(online.note)


def newest_window(window: MonitoringWindow, environment: str) -> None:
    """Drift per column (drifted first), one column's bins, the predictions, online metrics."""
    st.subheader(f"Newest window: {window_summary(window)}")
    drift = window.drift
    st.markdown(f"{drift.summary()}  \n{' · '.join(drift_facts(drift))}")
    ranked = sorted_features(drift.features)
    if ranked:
        st.dataframe(
            pd.DataFrame(
                [(*feature_cells(f), feature_verdict_text(f)) for f in ranked],
                columns=DRIFT_COLUMNS.header,
            ),
            hide_index=True,
        )
        # drifted first, then by PSI: the default is the first drifted column, else the top PSI
        picked = st.selectbox(
            "Distribution of column", [f.feature for f in ranked], key=f"feature-{environment}"
        )
        shares_chart(next(f for f in ranked if f.feature == picked))
    if drift.prediction is not None:
        st.markdown("**Predicted positive-class probability against the golden set**")
        shares_chart(drift.prediction, reference="golden set")
    if window.online is not None:
        st.markdown("**Online metrics (delayed labels joined by request id)**")
        online_metrics(window.online)


def environment_tab(environment: str) -> None:
    """One environment: pick a run, then its verdict, breaches, actions, trends and drift."""
    found = data.monitoring_reports(name, environment)
    if not found:
        st.info(
            f"No monitoring run for {environment} yet. Run `python run.py monitor` (or let the "
            "scheduled workflow run it) to judge the served traffic.",
            icon=":material/info:",
        )
        return
    labels = [f"{r.created_at} · {monitoring_verdict(r)}" for _, r in found]
    index = st.selectbox(
        "Monitoring run (created at, UTC)", range(len(found)), format_func=lambda i: labels[i],
        key=f"run-{environment}",
    )  # fmt: skip
    run_id, report = found[index]
    headline(report)
    if report.note:
        st.caption(f"Note: {report.note}")
    breaches_and_actions(report)
    st.subheader("Over time")
    trends([r for _, r in found[index:]])
    windows = newest_first(report)
    if not windows:
        st.info(
            f"This run judged no window: {report.note or 'no request in its time range'}.",
            icon=":material/info:",
        )
        return
    with st.expander(f"All {len(windows)} window(s) of this run"):
        st.dataframe(
            pd.DataFrame([window_cells(w) for w in windows], columns=WINDOW_COLUMNS.header),
            hide_index=True,
        )
    newest_window(windows[0], environment)
    st.caption(f"MLflow run `{run_id}` · report schema {report.schema_version}")


for tab, environment in zip(
    st.tabs([e.capitalize() for e in ENVIRONMENTS]), ENVIRONMENTS, strict=True
):
    with tab:
        environment_tab(environment)
