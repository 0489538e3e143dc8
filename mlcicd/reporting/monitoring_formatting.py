"""Shared cell formatting of drift findings and monitoring reports, for HTML and Markdown alike.

Split from `formatting` (the evaluation report's cells) only to keep each module small; the
same rules apply: plain text out, each renderer escapes and marks up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from mlcicd.reporting.drift import DriftReport, FeatureDrift
from mlcicd.reporting.formatting import (
    DASH,
    Columns,
    Escape,
    format_count,
    format_metric,
    format_ms,
)
from mlcicd.reporting.model import GateStatus
from mlcicd.reporting.monitoring import (
    ActionRecord,
    Breach,
    MonitoringReport,
    MonitoringWindow,
    OnlineMetrics,
)

# --- drift ---------------------------------------------------------------------------------------

DRIFT_COLUMNS = Columns(
    ("Column", "Kind", "PSI", "Distance", "Test", "Missing", "Rows (ref / cur)", "Verdict"),
    "llrrrrrl",
)
_DISTANCE_LABELS = {"ks_statistic": "KS", "jensen_shannon": "JS"}
_TEST_LABELS = {"ks": "KS", "chi2": "χ²"}


def format_psi(value: float | None) -> str:
    """Three decimals, as the drift verdicts quote it ("PSI 0.312 > 0.2")."""
    return DASH if value is None or not math.isfinite(value) else f"{value:.3f}"


def format_share(value: float | None) -> str:
    """A share of rows as a percentage with one decimal."""
    return DASH if value is None or not math.isfinite(value) else f"{value:.1%}"


def format_rate(value: float | None) -> str:
    """An error rate with two decimals of a percent, as the breach messages quote it."""
    return DASH if value is None or not math.isfinite(value) else f"{value:.2%}"


def format_p_value(value: float | None) -> str:
    """Two significant digits; anything below 0.0001 is simply that small."""
    if value is None or not math.isfinite(value):
        return DASH
    return "< 0.0001" if value < 1e-4 else f"{value:.2g}"


def sorted_features(features: Sequence[FeatureDrift]) -> list[FeatureDrift]:
    """Drifted first, then by PSI descending (unjudged last), then by name for a stable order."""
    return sorted(
        features,
        key=lambda f: (not f.drifted, f.psi is None, -(f.psi or 0.0), f.feature),
    )


def feature_verdict(feature: FeatureDrift) -> str:
    """drifted, ok, or not judged (too few rows)."""
    if feature.drifted is None:
        return "not judged"
    return "drifted" if feature.drifted else "ok"


def feature_status(feature: FeatureDrift, on_drift: str) -> GateStatus:
    """The gate status a column's verdict reads as: a drifted column blocks only under block."""
    if feature.drifted is None:
        return "skipped"
    if feature.drifted:
        return "failed" if on_drift == "block" else "warned"
    return "passed"


def drift_status(drift: DriftReport) -> GateStatus:
    """The status of the whole comparison, by the same rule as each column's."""
    if not drift.compared:
        return "skipped"
    if drift.drifted_features:
        return "failed" if drift.on_drift == "block" else "warned"
    return "passed"


def drift_headline(drift: DriftReport) -> str:
    """The verdict in a few words, for a banner or a window summary."""
    if not drift.compared:
        return "drift not compared"
    drifted = len(drift.drifted_features)
    if not drifted:
        return f"no drift in {len(drift.features)} column(s)"
    return f"{drifted} of {len(drift.features)} column(s) drifted"


def drift_facts(drift: DriftReport) -> list[str]:
    """What the comparison was made against, and what a drifted column does."""
    reference = (
        f"reference v{drift.reference_version}"
        if drift.reference_version
        else "no reference version"
    )
    action = "drift blocks" if drift.on_drift == "block" else "drift warns only"
    return [
        f"{reference} ({format_count(drift.reference_rows)} rows)",
        f"{format_count(drift.current_rows)} current rows",
        action,
    ]


def feature_cells(feature: FeatureDrift) -> tuple[str, ...]:
    """DRIFT_COLUMNS cells but the verdict, which each renderer marks up itself."""
    distance = _DISTANCE_LABELS[feature.distance_name]
    return (
        feature.feature,
        feature.kind,
        format_psi(feature.psi),
        DASH if feature.distance is None else f"{distance} {format_psi(feature.distance)}",
        DASH
        if feature.p_value is None
        else f"{_TEST_LABELS[feature.test_name]} p={format_p_value(feature.p_value)}",
        f"{format_share(feature.reference_missing_rate)} → "
        f"{format_share(feature.current_missing_rate)}",
        f"{format_count(feature.reference_rows)} / {format_count(feature.current_rows)}",
    )


def feature_verdict_text(feature: FeatureDrift) -> str:
    """The verdict with the statistic behind it ("drifted: PSI 0.312 > 0.2")."""
    verdict = feature_verdict(feature)
    return f"{verdict}: {feature.reason}" if feature.reason else verdict


def charted_features(drift: DriftReport, fallback: int = 3) -> list[FeatureDrift]:
    """Every drifted column, or when none drifted the `fallback` columns of highest PSI."""
    ranked = [f for f in sorted_features(drift.features) if f.bins]
    drifted = [f for f in ranked if f.drifted]
    return drifted or ranked[:fallback]


def highest_psi(drift: DriftReport) -> FeatureDrift | None:
    """The input column that moved most, by PSI; None when no column was judged."""
    judged = [f for f in drift.features if f.psi is not None]
    return max(judged, key=lambda f: (f.psi or 0.0, f.feature)) if judged else None


def chart_title(feature: FeatureDrift) -> str:
    """A drift chart's title: the column, its PSI and its verdict."""
    return f"{feature.feature}: PSI {format_psi(feature.psi)} · {feature_verdict(feature)}"


# --- monitoring ----------------------------------------------------------------------------------

BREACH_COLUMNS = Columns(
    ("Window", "Kind", "Metric", "Value", "Threshold", "Config key", "Message"), "lllrrll"
)
ACTION_COLUMNS = Columns(("Breaches", "Action", "Outcome", "Detail"), "llll")
WINDOW_COLUMNS = Columns(
    (
        "Start",
        "Versions",
        "Requests",
        "Error rate",
        "p99 ms",
        "Max PSI",
        "Prediction PSI",
        "Online AUC",
        "Breaches",
    ),
    "llrrrlrrr",
)


def window_time(timestamp: str, short: bool = False) -> str:
    """An ISO timestamp as "2025-06-14 09:00" (or "06-14 09:00"); unparsable text as it is."""
    try:
        parsed = datetime.fromisoformat(timestamp)
    except ValueError:
        return timestamp
    return parsed.strftime("%m-%d %H:%M" if short else "%Y-%m-%d %H:%M")


def newest_first(report: MonitoringReport) -> list[MonitoringWindow]:
    """Windows in reverse time order: the latest is what an on-call reader wants first."""
    return sorted(report.windows, key=lambda w: w.start, reverse=True)


def monitoring_verdict(report: MonitoringReport) -> str:
    """healthy, N breach(es), or that nothing was seen to judge."""
    count = len(report.all_breaches)
    if count:
        return f"{count} breach" + ("" if count == 1 else "es")
    return "healthy" if report.windows else "no traffic to judge"


def monitoring_facts(report: MonitoringReport, code: Escape, escape: Escape) -> list[str]:
    """The facts under the monitoring verdict, in order."""
    champion = (
        f"champion v{escape(report.champion_version)}" if report.champion_version else "no champion"
    )
    read = f"{format_count(report.lines_read)} log line(s) read"
    if report.lines_skipped:
        read += f" ({format_count(report.lines_skipped)} skipped)"
    return [
        champion,
        f"environment {code(report.environment)}",
        f"{escape(window_time(report.since))} → {escape(window_time(report.until))}",
        f"{format_count(report.window_minutes)}-minute windows",
        f"{format_count(len(report.windows))} window(s) with traffic",
        read,
    ]


def format_breach_value(metric: str, value: float | None) -> str:
    """A breach's value or threshold in the unit of its metric."""
    if value is None or not math.isfinite(value):
        return DASH
    if metric == "error_rate":
        return format_rate(value)
    if metric.endswith("_ratio"):
        return f"{value:.2f}×"
    if metric.startswith("feature:") or metric.endswith("psi"):
        return format_psi(value)
    return format_metric(value)


def breach_rows(report: MonitoringReport) -> list[tuple[str, Breach]]:
    """Every breach with the window it belongs to ("run" for run-level ones), newest first."""
    rows = [("run", b) for b in report.breaches]
    for window in newest_first(report):
        rows += [(window_time(window.start), b) for b in window.breaches]
    return rows


def breach_cells(window: str, breach: Breach) -> tuple[str, ...]:
    """BREACH_COLUMNS cells of one breach; the renderer may mark the config key up as code."""
    return (
        window,
        breach.kind,
        breach.metric,
        format_breach_value(breach.metric, breach.value),
        format_breach_value(breach.metric, breach.threshold),
        breach.config_key,
        breach.message,
    )


def action_cells(action: ActionRecord) -> tuple[str, ...]:
    """ACTION_COLUMNS cells of one action."""
    return (
        ", ".join(action.breach_kinds) or DASH,
        action.action,
        action.outcome,
        action.detail or DASH,
    )


def max_psi_cell(drift: DriftReport) -> str:
    """The highest input PSI of a window, with the column it belongs to."""
    top = highest_psi(drift)
    return DASH if top is None else f"{format_psi(top.psi)} ({top.feature})"


def window_cells(window: MonitoringWindow) -> tuple[str, ...]:
    """WINDOW_COLUMNS cells of one window."""
    prediction = window.drift.prediction
    online = window.online
    return (
        window_time(window.start),
        ", ".join(f"v{v}" for v in window.model_versions) or DASH,
        format_count(window.traffic.requests),
        format_rate(window.traffic.error_rate),
        format_ms(window.traffic.p99_ms),
        max_psi_cell(window.drift),
        format_psi(prediction.psi if prediction is not None else None),
        format_metric(online.roc_auc if online is not None else None),
        format_count(len(window.breaches)),
    )


def window_summary(window: MonitoringWindow) -> str:
    """One line naming a window and what happened in it, for a collapsed block's title."""
    breaches = len(window.breaches)
    verdict = f"{breaches} breach" + ("" if breaches == 1 else "es") if breaches else "healthy"
    return (
        f"{window_time(window.start)} → {window_time(window.end, short=True)} · "
        f"{format_count(window.traffic.requests)} request(s) · {verdict}"
    )


def traffic_rows(window: MonitoringWindow) -> list[tuple[str, str]]:
    """A window's traffic numbers as label/value pairs."""
    traffic = window.traffic
    return [
        ("Requests", format_count(traffic.requests)),
        ("Server errors (5xx)", format_count(traffic.server_errors)),
        ("Client errors (4xx)", format_count(traffic.client_errors)),
        ("Error rate", format_rate(traffic.error_rate)),
        ("Predicted rows", format_count(traffic.predicted_rows)),
        ("p50 ms", format_ms(traffic.p50_ms)),
        ("p99 ms", format_ms(traffic.p99_ms)),
        ("Model versions", ", ".join(f"v{v}" for v in window.model_versions) or DASH),
    ]


def online_rows(online: OnlineMetrics) -> list[tuple[str, str]]:
    """Online metrics next to the golden set's, as label/value pairs."""
    rows = [
        ("Labelled rows", format_count(online.labelled_rows)),
        ("Accuracy", format_metric(online.accuracy)),
        ("Golden-set accuracy", format_metric(online.golden_accuracy)),
        ("ROC AUC", format_metric(online.roc_auc)),
        ("Golden-set ROC AUC", format_metric(online.golden_roc_auc)),
    ]
    if online.note:
        rows.append(("Note", online.note))
    return rows
