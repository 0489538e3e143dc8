"""Standalone HTML rendering of the evaluation report: the page and its sections.

The file is attached to runs and opened from disk, often on machines without network access, so
it carries its own CSS (`report.css`, inlined) and charts (`charts`), loads nothing and runs no
script. Output is a pure function of the report (no clock, no randomness) so it can be
golden-tested and its bytes compared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from typing import Any

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
    format_count,
    format_metric,
    group_cells,
    headline_facts,
    latency_rows,
    lower_is_better,
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
from mlcicd.reporting.html.charts import confusion_chart, curve_chart, fairness_chart, latency_chart
from mlcicd.reporting.html.svg import esc
from mlcicd.reporting.model import Check, EvaluationReport, FairnessResult, GateResult, GateStatus

# No external resource can load even if a string slipped through: the policy forbids all but
# inline styles.
_CSP = "default-src 'none'; style-src 'unsafe-inline'"

# Read once at import; a package resource, so it ships in the wheel next to this module.
_CSS = resources.files("mlcicd.reporting.html").joinpath("report.css").read_text(encoding="utf-8")

_SCORE_COLUMNS = Columns(("Quantity", "Value"), "lr")


# --- generic HTML helpers -----------------------------------------------------------------------


def render_table(
    columns: Columns,
    rows: Iterable[Sequence[str]],
    row_classes: Sequence[str] | None = None,
    row_attrs: Sequence[str] | None = None,
    table_class: str = "",
) -> str:
    """A table from pre-escaped cells, aligned as `columns` says."""
    kinds = {"l": "", "r": ' class="num"', "c": ' class="center"'}
    head = "".join(
        f"<th{kinds[k]}>{h}</th>" for h, k in zip(columns.header, columns.align, strict=True)
    )
    body = []
    for i, row in enumerate(rows):
        css = row_classes[i] if row_classes else ""
        attrs = (f' class="{css}"' if css else "") + (row_attrs[i] if row_attrs else "")
        cells = "".join(f"<td{kinds[k]}>{c}</td>" for c, k in zip(row, columns.align, strict=True))
        body.append(f"<tr{attrs}>{cells}</tr>")
    css = f' class="{table_class}"' if table_class else ""
    return f"<table{css}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def escaped_cells(cells: Iterable[object]) -> tuple[str, ...]:
    """A row of shared plain-text cells, each escaped for HTML."""
    return tuple(esc(c) for c in cells)


def code(value: object) -> str:
    """Inline code: identifiers, versions, config keys."""
    return f"<code>{esc(value)}</code>"


def pill(status: GateStatus, label: str | None = None) -> str:
    """A coloured status badge; `label` replaces the status's own wording (drift verdicts)."""
    text = STATUS_LABELS[status] if label is None else label
    return f'<span class="pill {esc(status)}">{esc(text)}</span>'


def mark(ok: object) -> str:
    """✓ only for an explicit True; anything else, missing included, reads as a failure."""
    return '<span class="ok">✓</span>' if ok is True else '<span class="ko">✗</span>'


def key_value_table(pairs: Sequence[tuple[str, str]], as_code: bool) -> str:
    """Two-column table of label/value text; values as inline code when they are identifiers."""
    rows = [(esc(k), code(v) if as_code else esc(v)) for k, v in pairs]
    return render_table(KEY_VALUE_COLUMNS, rows)


def figure(svg: str, caption: str = "") -> str:
    """A chart in its frame; `caption` is pre-escaped markup."""
    text = f"<figcaption>{caption}</figcaption>" if caption else ""
    return f"<figure>{svg}{text}</figure>"


def banner(status: str, kicker: str, headline: str, subject: str, facts: Sequence[str]) -> str:
    """The coloured page header: `status` is its CSS class, `facts` pre-escaped markup."""
    return (
        f'<header class="banner {esc(status)}"><div class="kicker">{esc(kicker)}</div>'
        f"<h1>{esc(headline)}</h1>"
        f'<p class="model">{esc(subject)}</p><p class="facts">{" · ".join(facts)}</p></header>'
    )


def page_shell(title: str, header: str, sections: Iterable[str], footer: str) -> str:
    """The document every report page shares: inlined CSS, the CSP, nothing loaded from outside.

    `header`, `sections` and `footer` are pre-escaped markup; `title` is plain text.
    """
    body = "".join([header, "<main>", *sections, "</main>", f"<footer>{footer}</footer>"])
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{esc(title)}</title><style>\n{_CSS}</style></head>"
        f"<body>{body}</body></html>\n"
    )


# --- sections ------------------------------------------------------------------------------------


def _banner(report: EvaluationReport) -> str:
    return banner(
        "passed" if report.passed else "failed",
        "Evaluation report",
        f"{'✓' if report.passed else '✗'} {verdict_text(report)}",
        report.model_name,
        headline_facts(report, code, esc),
    )


def _delta_class(metric: str, delta: float) -> str:
    """CSS class saying whether a change is good news, by the metric's direction."""
    if delta == 0:
        return "same"
    improved = delta < 0 if lower_is_better(metric) else delta > 0
    return "better" if improved else "worse"


def _tiles(report: EvaluationReport) -> str:
    tiles = []
    for m in metric_rows(report):
        if m.delta_value is None or report.champion is None:
            sub = '<div class="delta same">no champion yet</div>'
        else:
            sub = (
                f'<div class="delta {_delta_class(m.name, m.delta_value)}">{m.delta} vs '
                f'v{esc(report.champion.version)} <span class="same">({m.champion})</span></div>'
            )
        tiles.append(
            f'<div class="tile"><div class="label">{esc(m.label)}</div>'
            f'<div class="value">{m.challenger}</div>{sub}</div>'
        )
    return f'<section class="tiles" aria-label="Headline metrics">{"".join(tiles)}</section>'


def _check_cells(check: Check) -> tuple[str, ...]:
    name = esc(check.name) + (
        "" if check.counts_for_verdict else ' <span class="note">(info)</span>'
    )
    return (name, *escaped_cells(check_cells(check)), mark(check.passed))


def _gate_card(gate: GateResult) -> str:
    checks = (
        render_table(
            CHECK_COLUMNS,
            [_check_cells(c) for c in gate.checks],
            [
                "fail" if not c.passed else ("muted" if not c.counts_for_verdict else "")
                for c in gate.checks
            ],
        )
        if gate.checks
        else '<p class="note">No checks recorded.</p>'
    )
    summary = esc(gate.summary) if gate.summary else esc(STATUS_LABELS[gate.status])
    return (
        f'<div class="gate {esc(gate.status)}"><header>{pill(gate.status)}'
        f"<strong>{esc(gate.gate)}</strong></header>"
        f'<p class="summary">{summary}</p>{checks}</div>'
    )


def _gates(report: EvaluationReport) -> str:
    if not report.gates:
        return '<section id="gates"><h2>Gates</h2><p class="note">No gates evaluated.</p></section>'
    overview = render_table(
        GATE_COLUMNS,
        [
            (pill(g.status), f"<strong>{esc(g.gate)}</strong>", esc(g.summary) or DASH)
            for g in report.gates
        ],
    )
    cards = "".join(_gate_card(g) for g in report.gates)
    return (
        f'<section id="gates"><h2>Gates</h2>{overview}'
        f'<h3>Checks and margins</h3><p class="note">Margin is the room to spare: negative means '
        f'the check failed by that much.</p><div class="gates">{cards}</div></section>'
    )


def _metrics(report: EvaluationReport) -> str:
    rows, attrs = [], []
    for m in metric_rows(report):
        delta = m.delta
        if m.delta_value is not None:
            delta = f'<span class="{_delta_class(m.name, m.delta_value)}">{delta}</span>'
        label = esc(m.label) + (
            ' <span class="note">(lower is better)</span>' if m.lower_is_better else ""
        )
        rows.append((label, m.challenger, m.champion, delta))
        attrs.append(f' data-metric="{esc(m.name)}"')
    table = render_table(metric_columns(report, esc), rows, None, attrs)
    error = champion_error(report)
    if error:
        table += f'<p class="worse">{esc(error)}</p>'
    charts = figure(curve_chart(report, "roc")) + figure(curve_chart(report, "pr"))
    return (
        f'<section id="metrics"><h2>Golden-set metrics</h2>{table}'
        f'<div class="charts">{charts}</div></section>'
    )


def _scores_section(report: EvaluationReport) -> str:
    scores = report.challenger
    facts = [
        ("Decision threshold", f"{report.threshold:g}"),
        ("Positive class", esc(report.positive_class)),
        ("Golden-set rows", format_count(report.golden_rows_evaluated)),
        ("Predicted positive rate", format_metric(scores.positive_rate)),
        ("Probability std", format_metric(scores.probability_std)),
    ]
    table = render_table(_SCORE_COLUMNS, facts)
    if scores.confusion is None:
        chart = '<p class="note">No confusion matrix recorded.</p>'
    else:
        chart = figure(confusion_chart(report, scores.confusion))
    return (
        f'<section id="confusion"><h2>Predictions at the threshold</h2>'
        f'<div class="split">{chart}<div>{table}</div></div></section>'
    )


def _fairness_block(fairness: FairnessResult) -> str:
    context = fairness_context(fairness)
    table = render_table(
        GROUP_COLUMNS,
        [escaped_cells(group_cells(g, fairness)) for g in fairness.groups],
        ["muted" if g.small else "" for g in fairness.groups],
        table_class="keep-first",
    )
    note = (
        '<p class="note">Small groups are shown but excluded from the verdict: too few rows '
        "for a stable rate.</p>"
        if any(g.small for g in fairness.groups)
        else ""
    )
    return (
        f"<h3>{esc(fairness.feature)}</h3><p>Demographic parity difference "
        f"<strong>{format_metric(fairness.demographic_parity_difference)}</strong> · "
        f"equalized odds difference "
        f"<strong>{format_metric(fairness.equalized_odds_difference)}</strong> · "
        f"groups in verdict: {verdict_groups(fairness, esc)}</p>"
        + (f'<p class="note">Beside it: {esc(context)}</p>' if context else "")
        + (f'<p class="note">Groups: {esc(fairness.definition)}</p>' if fairness.definition else "")
        + f'<div class="split">{figure(fairness_chart(fairness))}<div>{table}{note}</div></div>'
    )


def _fairness(report: EvaluationReport) -> str:
    if not report.fairness:
        return (
            '<section id="fairness"><h2>Fairness</h2>'
            '<p class="note">No sensitive features evaluated.</p></section>'
        )
    blocks = "".join(_fairness_block(f) for f in report.fairness)
    return f'<section id="fairness"><h2>Fairness</h2>{blocks}</section>'


def _latency(report: EvaluationReport) -> str:
    rows = [escaped_cells(row) for row in latency_rows(report)]
    if not rows:
        return (
            '<section id="latency"><h2>Latency</h2>'
            '<p class="note">Latency was not measured.</p></section>'
        )
    table = render_table(LATENCY_COLUMNS, rows, table_class="keep-first")
    chart = ""
    if report.latency is not None and report.latency.samples_ms:
        chart = figure(latency_chart(report.latency))
    return (
        f'<section id="latency"><h2>Latency</h2><div class="split">{chart}<div>{table}'
        f'<p class="note">Single-row requests after warm-up; throughput measured on batches.'
        f"</p></div></div></section>"
    )


def _golden_rows(report: EvaluationReport) -> str:
    total = len(report.golden_rows)
    flipped = flipped_rows(report)
    if total == 0:
        body = '<p class="note">No canonical rows were scored.</p>'
    else:
        against = champion_ref(report, esc, "the champion")
        body = f"<p>{flip_summary(total, len(flipped), against)}</p>"
        if flipped:
            body += render_table(FLIP_COLUMNS, [escaped_cells(flip_cells(r)) for r in flipped])
    return f'<section id="golden-rows"><h2>Golden rows</h2>{body}</section>'


def _data_validation(data_validation: Mapping[str, Any]) -> str:
    if not data_validation:
        body = '<p class="note">No data validation result recorded.</p>'
    else:
        suite = data_validation.get("suite")
        body = (
            f"<p>{mark(data_validation.get('success'))} suite {code(suite or DASH)} "
            f"{validation_outcome(data_validation)}</p>"
        )
        batches = validation_batches(data_validation)
        if batches:
            rows = []
            for batch in batches:
                name, evaluated, successful, count = validation_batch_cells(batch)
                rows.append((esc(name), mark(batch.get("success")), evaluated, successful, count))
            body += render_table(BATCH_COLUMNS, rows)
        failures = validation_failures(data_validation)
        if failures:
            items = "".join(f"<li>{code(f)}</li>" for f in failures)
            body += f'<p>{failures_heading(failures)}</p><ul class="failures">{items}</ul>'
    return f'<section id="data-validation"><h2>Data validation</h2>{body}</section>'


def _training(training: Mapping[str, Any]) -> str:
    pairs = training_rows(training)
    table = key_value_table(pairs, as_code=False) if pairs else '<p class="note">Not recorded.</p>'
    return f'<section id="training"><h2>Training</h2>{table}</section>'


def _lineage(lineage: Mapping[str, str]) -> str:
    pairs = list(lineage.items())
    body = key_value_table(pairs, as_code=True) if pairs else '<p class="note">Not recorded.</p>'
    return f'<section id="lineage"><h2>Lineage</h2>{body}</section>'


def render_html(report: EvaluationReport) -> str:
    """The offline, self-contained HTML form of the report."""
    # drift imports this module's helpers, so it is imported here rather than at the top
    from mlcicd.reporting.html.drift import drift_section

    sections = [
        _tiles(report),
        _gates(report),
        _metrics(report),
        _scores_section(report),
        _fairness(report),
        _latency(report),
        _golden_rows(report),
        _data_validation(report.data_validation),
        drift_section(report.drift) if report.drift is not None else "",
        _training(report.training),
        _lineage(report.lineage),
    ]
    footer = (
        f"Report created {esc(report.created_at)} · schema version {report.schema_version} · "
        f"sha256 <code>{report.sha256()}</code>"
    )
    return page_shell(
        f"{report.model_name}: {verdict_text(report)}", _banner(report), sections, footer
    )
