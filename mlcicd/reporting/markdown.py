"""Markdown rendering of the evaluation report, sized for a pull-request comment.

The headline, gate table and metric table stay visible; everything a reviewer only needs when
something looks off sits in a collapsed `<details>` block. The formatting helpers are public so
the HTML report and the console show every number as the very same string.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mlcicd.reporting.model import (
    Check,
    EvaluationReport,
    FairnessResult,
    GateResult,
    GateStatus,
    GroupMetrics,
    LatencyResult,
)

DASH = "—"

STATUS_MARKS: dict[GateStatus, str] = {
    "passed": "✅",
    "failed": "❌",
    "skipped": "⏭️",
    "no_champion": "➖",
}
STATUS_LABELS: dict[GateStatus, str] = {
    "passed": "passed",
    "failed": "failed",
    "skipped": "skipped",
    "no_champion": "no champion yet",
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


# --- number formatting shared by every rendering -------------------------------------------------


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


def verdict_mark(report: EvaluationReport) -> str:
    """✅ when nothing blocks, ❌ otherwise."""
    return STATUS_MARKS["passed"] if report.passed else STATUS_MARKS["failed"]


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


# --- Markdown primitives -------------------------------------------------------------------------


def _text(value: object) -> str:
    """Plain text for a table cell or line: HTML-escaped, pipes escaped, on one line."""
    escaped = html.escape(str(value), quote=False).replace("|", "\\|")
    return " ".join(escaped.split())


def _code(value: object, in_table: bool = False) -> str:
    """Inline code that survives backticks in the value (and pipes, inside a table)."""
    text = " ".join(str(value).split())
    if in_table:
        text = text.replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _table(header: Sequence[str], align: str, rows: Iterable[Sequence[str]]) -> list[str]:
    """GFM table; `align` holds one of l, r, c per column."""
    marks = {"l": "---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(marks[a] for a in align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _yes_no(value: object) -> str:
    return STATUS_MARKS["passed"] if value is True else STATUS_MARKS["failed"]


# --- sections -------------------------------------------------------------------------------------


def _headline(report: EvaluationReport) -> list[str]:
    facts = [
        _code(report.model_type),
        f"environment {_code(report.environment)}",
        f"run {_code(report.run_name)}",
        f"champion v{_text(report.champion.version)}" if report.champion else "no champion yet",
        f"{format_count(report.golden_rows_evaluated)} golden-set rows",
        f"threshold {report.threshold:g} for {_code(report.positive_class)}",
    ]
    return [
        f"### {verdict_mark(report)} {_code(report.model_name)} {_text(verdict_text(report))}",
        "",
        " · ".join(facts),
        "",
        f"Created {_text(report.created_at)} · report sha256 {_code(report.sha256()[:16])}",
    ]


def _gates(report: EvaluationReport) -> list[str]:
    if not report.gates:
        return ["_No gates were evaluated._"]
    rows = [
        (
            f"{STATUS_MARKS[g.status]} {STATUS_LABELS[g.status]}",
            f"**{_text(g.gate)}**",
            _text(g.summary) or DASH,
        )
        for g in report.gates
    ]
    return _table(("Status", "Gate", "Summary"), "lll", rows)


def _metrics(report: EvaluationReport) -> list[str]:
    theirs = report.champion.scores.metrics if report.champion else {}
    deltas = report.metric_deltas()
    rows = []
    for name, value in report.challenger.metrics.items():
        label = _text(metric_label(name)) + (" (lower is better)" if lower_is_better(name) else "")
        rows.append(
            (
                label,
                format_metric(value),
                format_metric(theirs.get(name)),
                format_delta(deltas.get(name)),
            )
        )
    lines = _table(("Metric", "Challenger", _text(champion_label(report)), "Δ"), "lrrr", rows)
    error = champion_error(report)
    return [*lines, "", f"⚠️ {_text(error)}"] if error else lines


def _check_row(check: Check) -> tuple[str, ...]:
    name = _text(check.name) + ("" if check.counts_for_verdict else " _(informational)_")
    return (
        name,
        format_check_value(check.name, check.observed),
        COMPARISON_SYMBOLS.get(check.comparison, check.comparison),
        format_check_value(check.name, check.threshold),
        format_margin(check.name, check.margin),
        _yes_no(check.passed),
    )


def _gate_checks(gate: GateResult) -> list[str]:
    title = f"**{STATUS_MARKS[gate.status]} {_text(gate.gate)}**: " + (
        _text(gate.summary) or STATUS_LABELS[gate.status]
    )
    if not gate.checks:
        return [title, "", "_No checks recorded._"]
    header = ("Check", "Observed", "", "Threshold", "Margin", "Pass")
    return [title, "", *_table(header, "lrcrrc", (_check_row(c) for c in gate.checks))]


def _fairness(fairness: FairnessResult) -> list[str]:
    verdict = ", ".join(_text(g) for g in fairness.groups_in_verdict) or DASH
    summary = (
        f"**{_text(fairness.feature)}**: demographic parity difference "
        f"{format_metric(fairness.demographic_parity_difference)} · equalized odds difference "
        f"{format_metric(fairness.equalized_odds_difference)} · groups in verdict: {verdict}"
    )
    rows = [
        (
            _text(g.group),
            format_count(g.count),
            format_metric(g.selection_rate),
            format_metric(g.accuracy),
            format_metric(g.true_positive_rate),
            format_metric(g.false_positive_rate),
            group_note(g, fairness),
        )
        for g in fairness.groups
    ]
    header = ("Group", "Count", "Selection rate", "Accuracy", "TPR", "FPR", "Note")
    return [summary, "", *_table(header, "lrrrrrl", rows)]


def _latency_row(label: str, latency: LatencyResult) -> tuple[str, ...]:
    return (
        label,
        format_ms(latency.p50_ms),
        format_ms(latency.p95_ms),
        format_ms(latency.p99_ms),
        format_ms(latency.mean_ms),
        format_rows_per_second(latency.batch_rows_per_second),
        format_count(latency.batch_size),
    )


def _latency(report: EvaluationReport) -> list[str]:
    rows = []
    if report.latency is not None:
        rows.append(_latency_row("Challenger", report.latency))
    if report.champion is not None and report.champion.latency is not None:
        rows.append(_latency_row(_text(champion_label(report)), report.champion.latency))
    if not rows:
        return ["_Latency was not measured._"]
    header = ("Model", "p50 ms", "p95 ms", "p99 ms", "Mean ms", "Batch rows/s", "Batch size")
    return _table(header, "lrrrrrr", rows)


def _golden_rows(report: EvaluationReport) -> list[str]:
    total = len(report.golden_rows)
    if total == 0:
        return ["_No canonical rows were scored._"]
    flipped = [r for r in report.golden_rows if r.flipped]
    if not flipped:
        return [f"No flips across {total:,} canonical rows."]
    against = f"champion v{_text(report.champion.version)}" if report.champion else "the champion"
    rows = [
        (
            str(r.row),
            _text(r.challenger_prediction),
            format_metric(r.challenger_probability),
            _text(r.champion_prediction) if r.champion_prediction is not None else DASH,
            format_metric(r.champion_probability),
        )
        for r in flipped
    ]
    header = ("Row", "Challenger", "Probability", "Champion", "Probability")
    return [
        f"{len(flipped):,} of {total:,} canonical rows flipped versus {against}:",
        "",
        *_table(header, "rlrlr", rows),
    ]


def _data_validation(data_validation: Mapping[str, Any]) -> list[str]:
    if not data_validation:
        return ["_No data validation result recorded._"]
    success = data_validation.get("success")
    suite = data_validation.get("suite")
    lines = [
        f"{_yes_no(success)} suite {_code(suite) if suite else DASH} "
        + ("succeeded" if success is True else "failed")
    ]
    batches = validation_batches(data_validation)
    if batches:
        rows = []
        for batch in batches:
            name, evaluated, successful, count = validation_batch_cells(batch)
            rows.append((_text(name), _yes_no(batch.get("success")), evaluated, successful, count))
        header = ("Batch", "Success", "Evaluated", "Successful", "Rows")
        lines += ["", *_table(header, "lcrrr", rows)]
    failures = validation_failures(data_validation)
    if failures:
        lines += ["", f"{len(failures)} failed expectation(s):", ""]
        lines += [f"- {_text(f)}" for f in failures]
    return lines


def _key_values(pairs: Sequence[tuple[str, str]], code: bool) -> list[str]:
    rows = [(_text(k), _code(v, in_table=True) if code else _text(v)) for k, v in pairs]
    return _table(("Key", "Value"), "ll", rows)


def render_markdown(report: EvaluationReport) -> str:
    """The PR-comment form of the report: verdict first, evidence collapsed."""
    lines = [*_headline(report), "", *_gates(report), "", *_metrics(report), ""]
    lines += ["<details><summary>Details</summary>", "", "#### Gate checks", ""]
    for gate in report.gates:
        lines += [*_gate_checks(gate), ""]
    lines += ["#### Fairness", ""]
    if not report.fairness:
        lines += ["_No sensitive features evaluated._", ""]
    for fairness in report.fairness:
        lines += [*_fairness(fairness), ""]
    lines += ["#### Latency", "", *_latency(report), ""]
    lines += ["#### Golden rows", "", *_golden_rows(report), ""]
    lines += ["#### Data validation", "", *_data_validation(report.data_validation), ""]
    training = training_rows(report.training)
    lines += ["#### Training", ""]
    lines += [*(_key_values(training, code=False) if training else ["_Not recorded._"]), ""]
    lineage = list(report.lineage.items())
    lines += ["#### Lineage", ""]
    lines += [*(_key_values(lineage, code=True) if lineage else ["_Not recorded._"]), ""]
    lines += ["</details>"]
    return "\n".join(lines) + "\n"
