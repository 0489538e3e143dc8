"""Formatters and table rows shared by the Markdown report, the HTML report and the console.

Every number and label a reviewer sees is computed here once, so the PR comment, the attached
HTML page and the review console can never disagree on a value. Functions return plain text;
each renderer escapes and decorates it in its own markup.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from mlcicd.reporting.model import (
    Check,
    EvaluationReport,
    FairnessResult,
    GateStatus,
    GoldenRowPrediction,
    GroupMetrics,
    LatencyResult,
)

Escape = Callable[[object], str]
"""A renderer's way of turning report text into safe markup (Markdown cell, HTML text)."""

DASH = "—"

STATUS_LABELS: dict[GateStatus, str] = {
    "passed": "passed",
    "failed": "failed",
    "skipped": "skipped",
    "no_champion": "no champion yet",
    "warned": "warning",
}
COMPARISON_SYMBOLS: dict[str, str] = {">=": "≥", "<=": "≤", "==": "="}

_METRIC_LABELS: dict[str, str] = {
    "accuracy": "Accuracy",
    "roc_auc": "ROC AUC",
    "f1": "F1",
    "precision": "Precision",
    "recall": "Recall",
    "log_loss": "Log loss",
}


# --- numbers -------------------------------------------------------------------------------------


def format_metric(value: float | None) -> str:
    """Four decimals: enough to see a 0.0005 regression, few enough to read."""
    return DASH if value is None or not math.isfinite(value) else f"{value:.4f}"


def format_delta(value: float | None) -> str:
    """Signed, so a regression cannot be mistaken for an improvement."""
    return DASH if value is None or not math.isfinite(value) else f"{value:+.4f}"


def format_ms(value: float | None) -> str:
    """Milliseconds with two decimals; sub-10 µs differences are noise."""
    return DASH if value is None or not math.isfinite(value) else f"{value:.2f}"


def format_rows_per_second(value: float | None) -> str:
    """Whole rows with thousands separators; throughput decimals carry no information."""
    return DASH if value is None or not math.isfinite(value) else f"{value:,.0f}"


def format_count(value: int | None) -> str:
    """Integer with thousands separators."""
    return DASH if value is None else f"{value:,}"


def metric_label(name: str) -> str:
    """Readable metric name; unknown metrics keep their key so nothing is hidden."""
    return _METRIC_LABELS.get(name, name)


def lower_is_better(metric: str) -> bool:
    """Losses improve downwards; the report does not carry metric directions."""
    return "loss" in metric.lower()


def _check_unit(name: str) -> str:
    """Guess a check's unit from its name ("p95 latency (ms)", "rows/s"): Check has no unit."""
    lowered = name.lower()
    if "(ms)" in lowered or lowered.endswith((" ms", "_ms")) or "_ms_" in lowered:
        return "ms"
    if "rows/s" in lowered or "per_second" in lowered or "per second" in lowered:
        return "rate"
    if "(x)" in lowered or "slowdown" in lowered:
        return "ratio"
    if "flip" in lowered or "count" in lowered:
        return "count"
    return "metric"


def format_check_value(name: str, value: float | None) -> str:
    """A check's observed value or threshold, in the unit its name implies."""
    if value is None or not math.isfinite(value):
        return DASH
    unit = _check_unit(name)
    if unit == "ms":
        return format_ms(value)
    if unit == "rate":
        return format_rows_per_second(value)
    if unit == "ratio":
        return f"{value:.2f}×"
    if unit == "count" and float(value).is_integer():
        return f"{int(value):,}"
    return format_metric(value)


def format_margin(name: str, value: float | None) -> str:
    """A check's margin, signed, in the unit of its observed value."""
    if value is None or not math.isfinite(value):
        return DASH
    unit = _check_unit(name)
    if unit == "ms":
        return f"{value:+.2f}"
    if unit == "rate":
        return f"{value:+,.0f}"
    if unit == "ratio":
        return f"{value:+.2f}×"
    if unit == "count" and float(value).is_integer():
        return f"{int(value):+,}"
    return format_delta(value)


# --- labels, verdicts and free-form summaries ----------------------------------------------------


def format_scalar(value: Any) -> str:
    """Free-form summary values (training, validation) as short text."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return format_metric(value)
    return str(value)


def verdict_text(report: EvaluationReport) -> str:
    """The one-line decision, naming the gates that block."""
    if not report.gates:
        return "no gates were evaluated"
    if report.passed:
        return "passed every gate"
    return "rejected by: " + ", ".join(g.gate for g in report.failed_gates)


def champion_label(report: EvaluationReport) -> str:
    """Column header for the champion; names its version so reviewers know what was compared."""
    return f"Champion v{report.champion.version}" if report.champion else "Champion"


def champion_error(report: EvaluationReport) -> str | None:
    """Why the champion has no numbers, when it could not be loaded or scored."""
    if report.champion is None or not report.champion.error:
        return None
    return f"{champion_label(report)} could not be scored: {report.champion.error}"


def group_note(group: GroupMetrics, fairness: FairnessResult) -> str:
    """Why a group row may be read differently: too small, or left out of the verdict."""
    excluded = group.group not in fairness.groups_in_verdict
    if group.small:
        return "small (excluded)" if excluded else "small"
    return "excluded" if excluded else ""


def training_rows(training: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Training summary as label/value pairs: device first, epoch history as a count."""
    rows: list[tuple[str, str]] = []
    device = training.get("device")
    if device is not None:
        name = training.get("device_name")
        text = str(device) if name in (None, "", device) else f"{device} ({name})"
        rows.append(("Device", text))
    epochs = training.get("epochs")
    if isinstance(epochs, list):
        rows.append(("Epochs", format_count(len(epochs))))
    elif epochs is not None:
        rows.append(("Epochs", format_scalar(epochs)))
    first = [k for k in ("epochs_run", "best_epoch") if k in training]
    rest = [k for k in training if k not in ("device", "device_name", "epochs", *first)]
    for key in first + rest:
        value = training[key]
        if not isinstance(value, list | dict):
            rows.append((key.replace("_", " ").capitalize(), format_scalar(value)))
    return rows


def validation_batches(data_validation: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Per-batch results of the data gate; tolerant of a missing or foreign shape."""
    batches = data_validation.get("batches")
    if not isinstance(batches, list):
        return []
    return [b for b in batches if isinstance(b, Mapping)]


def validation_failures(data_validation: Mapping[str, Any]) -> list[str]:
    """Each failed expectation as one line, like ExpectationFailure.describe()."""
    lines: list[str] = []
    for batch in validation_batches(data_validation):
        for failure in batch.get("failures") or []:
            if not isinstance(failure, Mapping):
                lines.append(str(failure))
                continue
            column = failure.get("column")
            where = f" on column '{column}'" if column else ""
            lines.append(
                f"[{failure.get('batch', batch.get('batch', '?'))}] "
                f"{failure.get('expectation', '?')}{where}: {failure.get('observed', '')}"
            )
    return lines


def _validation_count(batch: Mapping[str, Any], key: str) -> str:
    value = batch.get(key)
    return format_count(value) if isinstance(value, int) else format_scalar(value)


def validation_batch_cells(batch: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """Evaluated, successful, rows as text, plus the batch name."""
    return (
        str(batch.get("batch", "?")),
        _validation_count(batch, "evaluated"),
        _validation_count(batch, "successful"),
        _validation_count(batch, "rows"),
    )


# --- tables: the same columns and cells in every rendering ---------------------------------------


class Columns(NamedTuple):
    """A table's header and its alignment, one of l, r, c per column."""

    header: tuple[str, ...]
    align: str


GATE_COLUMNS = Columns(("Status", "Gate", "Summary"), "lll")
CHECK_COLUMNS = Columns(("Check", "Observed", "", "Threshold", "Margin", "Pass"), "lrcrrc")
GROUP_COLUMNS = Columns(
    ("Group", "Count", "Selection rate", "Accuracy", "TPR", "FPR", "Note"), "lrrrrrl"
)
LATENCY_COLUMNS = Columns(
    ("Model", "p50 ms", "p95 ms", "p99 ms", "Mean ms", "Batch rows/s", "Batch size"), "lrrrrrr"
)
FLIP_COLUMNS = Columns(("Row", "Challenger", "Probability", "Champion", "Probability"), "rlrlr")
BATCH_COLUMNS = Columns(("Batch", "Success", "Evaluated", "Successful", "Rows"), "lcrrr")
KEY_VALUE_COLUMNS = Columns(("Key", "Value"), "ll")


def metric_columns(report: EvaluationReport, escape: Escape) -> Columns:
    """Metric table columns; the champion's header names its version."""
    return Columns(("Metric", "Challenger", escape(champion_label(report)), "Δ"), "lrrr")


def champion_ref(report: EvaluationReport, escape: Escape, absent: str) -> str:
    """The champion as named in running text ("champion v3"), or `absent` without one."""
    if report.champion is None:
        return absent
    where = f" of {escape(report.champion.registry)}" if report.champion.registry else ""
    return f"champion v{escape(report.champion.version)}{where}"


def headline_facts(report: EvaluationReport, code: Escape, escape: Escape) -> list[str]:
    """The facts under the verdict, in order; `code` marks identifiers up as inline code."""
    return [
        code(report.model_type),
        f"environment {code(report.environment)}",
        f"run {code(report.run_name)}",
        champion_ref(report, escape, "no champion yet"),
        f"{format_count(report.golden_rows_evaluated)} golden-set rows",
        f"threshold {report.threshold:g} for {code(report.positive_class)}",
        *golden_facts(report, code),
    ]


def golden_facts(report: EvaluationReport, code: Escape) -> list[str]:
    """Where the golden rows came from, and a warning when the champion's came from elsewhere."""
    golden = report.golden
    if golden is None:
        return []
    facts = [f"golden set: {golden.source} ({code(golden.fingerprint[:12])})"]
    if golden.changed_since_champion:
        facts.append(
            f"golden set changed since the champion ({golden.champion_source}): it may have "
            "trained on some of these rows, which flatters it"
        )
    return facts


class MetricRow(NamedTuple):
    """One golden-set metric of the challenger against the champion, formatted."""

    name: str
    label: str
    lower_is_better: bool
    challenger: str
    champion: str
    delta: str
    delta_value: float | None


def metric_rows(report: EvaluationReport) -> list[MetricRow]:
    """Challenger metrics in report order, each with the champion's value and the change."""
    theirs = report.champion.scores.metrics if report.champion else {}
    deltas = report.metric_deltas()
    return [
        MetricRow(
            name=name,
            label=metric_label(name),
            lower_is_better=lower_is_better(name),
            challenger=format_metric(value),
            champion=format_metric(theirs.get(name)),
            delta=format_delta(deltas.get(name)),
            delta_value=deltas.get(name),
        )
        for name, value in report.challenger.metrics.items()
    ]


def check_cells(check: Check) -> tuple[str, str, str, str]:
    """Observed, comparison, threshold and margin of a check; the renderer adds name and mark."""
    return (
        format_check_value(check.name, check.observed),
        COMPARISON_SYMBOLS.get(check.comparison, check.comparison),
        format_check_value(check.name, check.threshold),
        format_margin(check.name, check.margin),
    )


def group_cells(group: GroupMetrics, fairness: FairnessResult) -> tuple[str, ...]:
    """One fairness table row, GROUP_COLUMNS order."""
    return (
        group.group,
        format_count(group.count),
        format_metric(group.selection_rate),
        format_metric(group.accuracy),
        format_metric(group.true_positive_rate),
        format_metric(group.false_positive_rate),
        group_note(group, fairness),
    )


def verdict_groups(fairness: FairnessResult, escape: Escape) -> str:
    """The groups whose rates decide the fairness gate, comma separated."""
    return ", ".join(escape(g) for g in fairness.groups_in_verdict) or DASH


def _latency_cells(latency: LatencyResult) -> tuple[str, ...]:
    return (
        format_ms(latency.p50_ms),
        format_ms(latency.p95_ms),
        format_ms(latency.p99_ms),
        format_ms(latency.mean_ms),
        format_rows_per_second(latency.batch_rows_per_second),
        format_count(latency.batch_size),
    )


def latency_rows(report: EvaluationReport) -> list[tuple[str, ...]]:
    """LATENCY_COLUMNS rows for the challenger and the champion, whichever were measured."""
    rows = []
    if report.latency is not None:
        rows.append(("Challenger", *_latency_cells(report.latency)))
    if report.champion is not None and report.champion.latency is not None:
        rows.append((champion_label(report), *_latency_cells(report.champion.latency)))
    return rows


def flipped_rows(report: EvaluationReport) -> list[GoldenRowPrediction]:
    """Canonical rows whose predicted class differs from the champion's."""
    return [r for r in report.golden_rows if r.flipped]


def flip_cells(row: GoldenRowPrediction) -> tuple[str, ...]:
    """One FLIP_COLUMNS row: the two predictions and their probabilities."""
    return (
        str(row.row),
        row.challenger_prediction,
        format_metric(row.challenger_probability),
        row.champion_prediction if row.champion_prediction is not None else DASH,
        format_metric(row.champion_probability),
    )


def flip_summary(total: int, flipped: int, against: str) -> str:
    """The sentence above the flip table (or in its place when nothing flipped)."""
    if not flipped:
        return f"No flips across {total:,} canonical rows."
    return f"{flipped:,} of {total:,} canonical rows flipped versus {against}:"


def validation_outcome(data_validation: Mapping[str, Any]) -> str:
    """Succeeded only when the suite says so explicitly; anything else reads as failed."""
    return "succeeded" if data_validation.get("success") is True else "failed"


def failures_heading(failures: Sequence[str]) -> str:
    """The line that introduces the failed expectations."""
    return f"{len(failures)} failed expectation(s):"
