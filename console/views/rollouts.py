"""Rendering of rollouts: traffic plots, the rollout record and its verdicts, the abort, the shadow.

Shared by the Deployments page (a rollout as it runs) and the review page (the shadow report a
finished shadow rollout logged). The numbers come from the library (the metrics sampler, the
engine's rollout record, `shadow_report`); this module only lays them out, and the abort calls
`request_abort`, which the running engine acts on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from mlcicd.release.approvals import ApprovalError, clean_reason
from mlcicd.release.reviewers import Reviewer
from mlcicd.release.rollout.aborts import abort_requested, request_abort
from mlcicd.serving.metrics.history import History

RATE, ERRORS, P50, P99, MEAN = "requests / s", "error rate", "p50 ms", "p99 ms", "prediction mean"
CHART_HEIGHT = 220


def _number(value: Any, digits: int = 4) -> str:
    """A number for a caption or st.metric; a dash where there is none."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "–"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def history_frame(history: History) -> pd.DataFrame:
    """One row per version and interval, the numbers as floats (NaN: no data, a gap)."""
    rows = [
        {
            "time": p.at,
            "version": f"v{p.version}",
            RATE: p.request_rate,
            ERRORS: p.error_rate,
            P50: p.p50_ms,
            P99: p.p99_ms,
            MEAN: p.prediction_mean,
        }
        for p in history.points
    ]
    frame = pd.DataFrame(rows, columns=["time", "version", RATE, ERRORS, P50, P99, MEAN])
    return frame.astype({RATE: float, ERRORS: float, P50: float, P99: float, MEAN: float})


def traffic_charts(history: History) -> None:
    """Request rate, error rate, p50/p99 and prediction mean per version over time."""
    every = f"{history.interval_seconds:g} s"
    if history.error:
        when = f" at {history.error_at:%H:%M:%S} UTC" if history.error_at else ""
        st.warning(f"The metrics could not be read{when}: {history.error}")
    if not history.points:
        st.caption(
            f"No traffic measured yet: this console reads the metrics every {every} while it "
            "runs; the first point comes after two reads."
        )
        return
    frame = history_frame(history)
    requests, errors, latency, predictions = st.tabs(
        ["Requests", "Errors", "Latency", "Predictions"]
    )
    requests.line_chart(frame, x="time", y=RATE, color="version", height=CHART_HEIGHT)
    errors.line_chart(frame, x="time", y=ERRORS, color="version", height=CHART_HEIGHT)
    quantiles = frame.melt(["time", "version"], [P50, P99], var_name="quantile", value_name="ms")
    quantiles["series"] = quantiles["version"] + " " + quantiles["quantile"].str[:3]
    latency.line_chart(quantiles, x="time", y="ms", color="series", height=CHART_HEIGHT)
    predictions.line_chart(frame, x="time", y=MEAN, color="version", height=CHART_HEIGHT)
    predictions.caption(
        "Mean predicted positive-class probability per interval, estimated from the bucket "
        "midpoints of the probability histogram (tenths; the windows carry no sum), so within "
        "0.05 of the exact mean."
    )
    st.caption(
        f"One point per version every {every}, read by this console since it first showed this "
        f"page; the last {history.keep_seconds / 60:g} minutes are kept."
    )


def verdict_rows(verdicts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per check of each verdict (Verdict.to_dict), newest verdict first."""
    rows: list[dict[str, Any]] = []
    for verdict in reversed(verdicts):
        base = {
            "time (UTC)": verdict.get("at", ""),
            "step": verdict.get("step", ""),
            "outcome": verdict.get("outcome", ""),
            "requests (candidate / stable)": (
                f"{_number(verdict.get('candidate_requests'), 6)} / "
                f"{_number(verdict.get('baseline_requests'), 6)}"
            ),
        }
        checks = verdict.get("checks") or [{}]
        for check in checks:
            passed = check.get("passed")
            rows.append(
                {
                    **base,
                    "check": check.get("metric", ""),
                    "value": check.get("value"),
                    "threshold": check.get("threshold"),
                    "passed": {True: "yes", False: "NO"}.get(passed, "not judged"),
                    "detail": check.get("detail", ""),
                }
            )
    return rows


def verdict_table(verdicts: Sequence[Mapping[str, Any]]) -> None:
    """The analysis verdicts, or a line saying there is none yet."""
    rows = verdict_rows(verdicts)
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True)
    else:
        st.caption("No step has been judged yet.")


def rollout_summary(rollout: Mapping[str, Any]) -> None:
    """Strategy, versions, state, the current step and the engine's last words."""
    state = str(rollout.get("state", "?"))
    st.markdown(
        f"**Rollout:** {rollout.get('strategy', '?')} of v{rollout.get('candidate', '?')} "
        f"beside stable v{rollout.get('stable', '?')}: **{state}**  \n"
        f"Step: **{rollout.get('step', '?')}** · started {rollout.get('started_at', '?')} · "
        f"updated {rollout.get('updated_at', '?')}"
    )
    if rollout.get("detail"):
        (st.error if state == "rolled_back" else st.caption)(str(rollout["detail"]))
    verdict_table(list(rollout.get("verdicts") or []))


def abort_panel(
    model_name: str,
    environment: str,
    rollout: Mapping[str, Any],
    who: Reviewer | None,
    check_seconds: float,
) -> None:
    """While a rollout runs: the pending abort, a sign-in hint, or the form that requests one."""
    if rollout.get("state") != "running":
        return
    pending = abort_requested(model_name, environment)
    if pending is not None:
        st.warning(
            f"Abort requested by `{pending.get('actor', '?')}` at {pending.get('at', '?')}: "
            f"{pending.get('reason', '')}. The rollout rolls back to "
            f"v{rollout.get('stable', '?')} at its next check (every {check_seconds:g} s)."
        )
        return
    if who is None:
        st.caption("Sign in as a reviewer to abort the rollout.")
        return
    with st.form(f"abort-{environment}"):
        why = st.text_area("Why abort? (required)", key=f"abort_reason_{environment}")
        sure = st.checkbox(
            f"I confirm: send all of {environment} back to v{rollout.get('stable', '?')} and "
            f"stop v{rollout.get('candidate', '?')}",
            key=f"abort_confirm_{environment}",
        )
        go = st.form_submit_button("Abort rollout", type="primary", icon=":material/cancel:")
    if not go:
        return
    try:
        text = clean_reason(why)
    except ApprovalError as exc:
        st.error(str(exc))
        return
    if not sure:
        st.error("Tick the confirmation first.")
        return
    request_abort(model_name, environment, who.identity, text)
    st.rerun()


def shadow_report_view(report: Mapping[str, Any]) -> None:
    """The shadow report (`mlcicd.release.rollout.shadow.shadow_report`) of one version."""
    outcome = str(report.get("outcome", "unknown"))
    box = {"healthy": st.success, "breach": st.error}.get(outcome, st.info)
    box(
        f"Shadow of v{report.get('shadow_version', '?')} beside v"
        f"{report.get('stable_version', '?')} in {report.get('environment', '?')}: "
        f"**{outcome}** ({report.get('started_at', '?')} to {report.get('finished_at', '?')})"
    )
    comparison: Mapping[str, Any] = report.get("comparison") or {}
    share = comparison.get("share_changed_by_more_than_0_1")
    cells = [
        ("Mirrored requests", _number(comparison.get("mirrored_requests"))),
        ("Shadow failures", _number(comparison.get("shadow_failures"))),
        ("Compared rows", _number(comparison.get("compared_rows"))),
        ("Max |Δp|", _number(comparison.get("max_abs_probability_difference"))),
        ("Mean |Δp|", _number(comparison.get("mean_abs_probability_difference"))),
        ("Rows with |Δp| > 0.1", f"{share:.1%}" if isinstance(share, float) else "–"),
        (
            "p99 ms (stable / shadow)",
            f"{_number(comparison.get('primary_p99_ms'))} / "
            f"{_number(comparison.get('shadow_p99_ms'))}",
        ),
        (
            "p50 ms (stable / shadow)",
            f"{_number(comparison.get('primary_p50_ms'))} / "
            f"{_number(comparison.get('shadow_p50_ms'))}",
        ),
    ]
    for start in range(0, len(cells), 4):
        for column, (label, value) in zip(st.columns(4), cells[start : start + 4], strict=False):
            column.metric(label, value)
    st.caption(
        "Δp: the shadow's predicted probability minus the stable version's on the same mirrored "
        "request; the verdict below is the analysis of the shadow against the stable version."
    )
    verdict = report.get("verdict")
    verdict_table([verdict] if isinstance(verdict, Mapping) else [])
    with st.expander("The shadow report as stored"):
        st.json(dict(report))
