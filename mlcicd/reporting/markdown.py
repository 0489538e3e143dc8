"""Markdown rendering of the evaluation report, sized for a pull-request comment.

The headline, gate table and metric table stay visible; everything a reviewer only needs when
something looks off sits in a collapsed `<details>` block. Numbers and cells come from
`mlcicd.reporting.formatting`, so the HTML report and the console show them as the same strings.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mlcicd.reporting.drift import DriftReport
from mlcicd.reporting.fairness_context import fairness_context
from mlcicd.reporting.formatting import (
    BATCH_COLUMNS,
    CHECK_COLUMNS,
    DASH,
    FLIP_COLUMNS,
    GATE_COLUMNS,
    GROUP_COLUMNS,
    KEY_VALUE_COLUMNS,
    LATENCY_COLUMNS,
    STATUS_LABELS,
    Columns,
    champion_error,
    champion_ref,
    check_cells,
    failures_heading,
    flip_cells,
    flip_summary,
    flipped_rows,
    format_metric,
    group_cells,
    headline_facts,
    latency_rows,
    metric_columns,
    metric_rows,
    training_rows,
    validation_batch_cells,
    validation_batches,
    validation_failures,
    validation_outcome,
    verdict_groups,
    verdict_text,
)
from mlcicd.reporting.model import Check, EvaluationReport, FairnessResult, GateResult, GateStatus
from mlcicd.reporting.monitoring import MonitoringReport
from mlcicd.reporting.monitoring_formatting import (
    ACTION_COLUMNS,
    BREACH_COLUMNS,
    DRIFT_COLUMNS,
    WINDOW_COLUMNS,
    action_cells,
    breach_cells,
    breach_rows,
    drift_facts,
    feature_cells,
    feature_verdict_text,
    monitoring_facts,
    monitoring_verdict,
    newest_first,
    sorted_features,
    window_cells,
)

STATUS_MARKS: dict[GateStatus, str] = {
    "passed": "✅",
    "failed": "❌",
    "skipped": "⏭️",
    "no_champion": "➖",
    "warned": "⚠️",
}


def verdict_mark(report: EvaluationReport) -> str:
    """✅ when nothing blocks, ❌ otherwise."""
    return STATUS_MARKS["passed"] if report.passed else STATUS_MARKS["failed"]


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


def _table(columns: Columns, rows: Iterable[Sequence[str]]) -> list[str]:
    """GFM table from already escaped cells; the alignment comes with the columns."""
    marks = {"l": "---", "r": "---:", "c": ":---:"}
    lines = [
        "| " + " | ".join(columns.header) + " |",
        "|" + "|".join(marks[a] for a in columns.align) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _cells(cells: Iterable[object]) -> tuple[str, ...]:
    """A row of shared plain-text cells, each made safe for a table."""
    return tuple(_text(c) for c in cells)


def _yes_no(value: object) -> str:
    return STATUS_MARKS["passed"] if value is True else STATUS_MARKS["failed"]


# --- sections -------------------------------------------------------------------------------------


def _headline(report: EvaluationReport) -> list[str]:
    return [
        f"### {verdict_mark(report)} {_code(report.model_name)} {_text(verdict_text(report))}",
        "",
        " · ".join(headline_facts(report, _code, _text)),
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
    return _table(GATE_COLUMNS, rows)


def _metrics(report: EvaluationReport) -> list[str]:
    rows = [
        (
            _text(m.label) + (" (lower is better)" if m.lower_is_better else ""),
            m.challenger,
            m.champion,
            m.delta,
        )
        for m in metric_rows(report)
    ]
    lines = _table(metric_columns(report, _text), rows)
    error = champion_error(report)
    return [*lines, "", f"⚠️ {_text(error)}"] if error else lines


def _check_row(check: Check) -> tuple[str, ...]:
    name = _text(check.name) + ("" if check.counts_for_verdict else " _(informational)_")
    return (name, *check_cells(check), _yes_no(check.passed))


def _gate_checks(gate: GateResult) -> list[str]:
    title = f"**{STATUS_MARKS[gate.status]} {_text(gate.gate)}**: " + (
        _text(gate.summary) or STATUS_LABELS[gate.status]
    )
    if not gate.checks:
        return [title, "", "_No checks recorded._"]
    return [title, "", *_table(CHECK_COLUMNS, (_check_row(c) for c in gate.checks))]


def _fairness(fairness: FairnessResult) -> list[str]:
    summary = (
        f"**{_text(fairness.feature)}**: demographic parity difference "
        f"{format_metric(fairness.demographic_parity_difference)} · equalized odds difference "
        f"{format_metric(fairness.equalized_odds_difference)} · groups in verdict: "
        f"{verdict_groups(fairness, _text)}"
    )
    rows = [_cells(group_cells(g, fairness)) for g in fairness.groups]
    defined = [f"Groups: {_text(fairness.definition)}", ""] if fairness.definition else []
    context = fairness_context(fairness)
    if context:
        defined = [f"Beside it: {_text(context)}", "", *defined]
    return [summary, "", *defined, *_table(GROUP_COLUMNS, rows)]


def _latency(report: EvaluationReport) -> list[str]:
    rows = [_cells(row) for row in latency_rows(report)]
    if not rows:
        return ["_Latency was not measured._"]
    return _table(LATENCY_COLUMNS, rows)


def _golden_rows(report: EvaluationReport) -> list[str]:
    total = len(report.golden_rows)
    if total == 0:
        return ["_No canonical rows were scored._"]
    flipped = flipped_rows(report)
    summary = flip_summary(total, len(flipped), champion_ref(report, _text, "the champion"))
    if not flipped:
        return [summary]
    return [summary, "", *_table(FLIP_COLUMNS, (_cells(flip_cells(r)) for r in flipped))]


def _data_validation(data_validation: Mapping[str, Any]) -> list[str]:
    if not data_validation:
        return ["_No data validation result recorded._"]
    suite = data_validation.get("suite")
    lines = [
        f"{_yes_no(data_validation.get('success'))} suite {_code(suite) if suite else DASH} "
        + validation_outcome(data_validation)
    ]
    batches = validation_batches(data_validation)
    if batches:
        rows = []
        for batch in batches:
            name, evaluated, successful, count = validation_batch_cells(batch)
            rows.append((_text(name), _yes_no(batch.get("success")), evaluated, successful, count))
        lines += ["", *_table(BATCH_COLUMNS, rows)]
    failures = validation_failures(data_validation)
    if failures:
        lines += ["", failures_heading(failures), ""]
        lines += [f"- {_text(f)}" for f in failures]
    return lines


def _key_values(pairs: Sequence[tuple[str, str]], code: bool) -> list[str]:
    rows = [(_text(k), _code(v, in_table=True) if code else _text(v)) for k, v in pairs]
    return _table(KEY_VALUE_COLUMNS, rows)


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
    if report.drift is not None:
        lines += ["#### Data drift", "", *drift_lines(report.drift), ""]
    training = training_rows(report.training)
    lines += ["#### Training", ""]
    lines += [*(_key_values(training, code=False) if training else ["_Not recorded._"]), ""]
    lineage = list(report.lineage.items())
    lines += ["#### Lineage", ""]
    lines += [*(_key_values(lineage, code=True) if lineage else ["_Not recorded._"]), ""]
    lines += ["</details>"]
    return "\n".join(lines) + "\n"


MAX_DRIFT_ROWS = 10


def drift_lines(drift: DriftReport) -> list[str]:
    """Summary and the per-column table, drifted first, the 10 most moved columns at most."""
    if not drift.compared:
        return [f"_{_text(drift.summary())}_"]
    features = sorted_features(drift.features)
    rows = [
        (*(_text(c) for c in feature_cells(f)), _text(feature_verdict_text(f)))
        for f in features[:MAX_DRIFT_ROWS]
    ]
    lines = [_text(drift.summary()), "", _text(" · ".join(drift_facts(drift))), ""]
    lines += _table(DRIFT_COLUMNS, rows)
    if len(features) > MAX_DRIFT_ROWS:
        lines += ["", f"… {len(features) - MAX_DRIFT_ROWS} more column(s) in the HTML report"]
    if drift.prediction is not None:
        p = drift.prediction
        lines += ["", f"Predictions: {_text(feature_verdict_text(p))}"]
    return lines


def render_monitoring_markdown(report: MonitoringReport) -> str:
    """The monitoring report as text for a CI summary or an issue: verdict, breaches, windows."""
    mark = STATUS_MARKS["passed"] if report.healthy else STATUS_MARKS["failed"]
    facts = " · ".join(monitoring_facts(report, lambda v: _code(v), _text))
    lines = [
        f"### {mark} Monitoring {_text(report.model_name)}: {monitoring_verdict(report)}",
        "",
        facts,
        "",
    ]
    if report.note:
        lines += [f"_{_text(report.note)}_", ""]
    breaches = breach_rows(report)
    if breaches:
        rows = []
        for window, breach in breaches:
            cells = [_text(c) for c in breach_cells(window, breach)]
            cells[5] = _code(breach.config_key, in_table=True)
            rows.append(tuple(cells))
        lines += ["#### Breaches", "", *_table(BREACH_COLUMNS, rows), ""]
    if report.actions:
        rows = [tuple(_text(c) for c in action_cells(a)) for a in report.actions]
        lines += ["#### Actions", "", *_table(ACTION_COLUMNS, rows), ""]
    windows = newest_first(report)
    if windows:
        rows = [tuple(_text(c) for c in window_cells(w)) for w in windows]
        lines += ["#### Windows", "", *_table(WINDOW_COLUMNS, rows), ""]
        lines += ["#### Newest window: drift", "", *drift_lines(windows[0].drift), ""]
    return "\n".join(lines) + "\n"
