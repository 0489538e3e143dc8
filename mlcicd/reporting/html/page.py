"""Standalone HTML rendering of the evaluation report, with inline SVG charts.

The file is attached to runs and opened from disk, often on machines without network access, so
it carries its own CSS and charts, loads nothing and runs no script. Output is a pure function of
the report (no clock, no randomness) so it can be golden-tested and its bytes compared.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mlcicd.reporting.markdown import (
    COMPARISON_SYMBOLS,
    DASH,
    STATUS_LABELS,
    champion_error,
    champion_label,
    format_check_value,
    format_count,
    format_delta,
    format_margin,
    format_metric,
    format_ms,
    format_rows_per_second,
    group_note,
    lower_is_better,
    metric_label,
    training_rows,
    validation_batch_cells,
    validation_batches,
    validation_failures,
    verdict_text,
)
from mlcicd.reporting.model import (
    Check,
    ConfusionMatrix,
    CurvePoint,
    EvaluationReport,
    FairnessResult,
    GateResult,
    GateStatus,
    LatencyResult,
)

CHALLENGER_COLOR = "#0969da"
CHAMPION_COLOR = "#bc4c00"
GRID_COLOR = "#e5e7eb"
AXIS_COLOR = "#6b7280"
TEXT_COLOR = "#1f2328"
PERCENTILE_COLORS = {"p50": "#1a7f37", "p95": "#bf8700", "p99": "#cf222e"}

# No external resource can load even if a string slipped through: the policy forbids all but
# inline styles.
_CSP = "default-src 'none'; style-src 'unsafe-inline'"

_CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f6f8fa;color:#1f2328;font:14px/1.5 system-ui,-apple-system,"Segoe UI",
Roboto,"Helvetica Neue",Arial,"Liberation Sans","DejaVu Sans",sans-serif}
header.banner{padding:28px 40px 24px;color:#fff}
header.banner.passed{background:linear-gradient(135deg,#1a7f37,#2da44e)}
header.banner.failed{background:linear-gradient(135deg,#a40e26,#cf222e)}
.banner .kicker{font-size:12.5px;font-weight:600;letter-spacing:.06em;text-transform:uppercase;
opacity:.85}
.banner h1{margin:2px 0 2px;font-size:30px;font-weight:700}
.banner .model{margin:0 0 8px;font-size:18px;font-weight:600}
.banner .facts{margin:0;font-size:14px;opacity:.95}
.banner code{background:rgba(255,255,255,.18);color:#fff}
main{max-width:1240px;margin:0 auto;padding:24px 40px 8px}
section{background:#fff;border:1px solid #d0d7de;border-radius:10px;padding:20px 24px;
margin:0 0 20px}
h2{margin:0 0 14px;font-size:19px;font-weight:650}
h3{margin:18px 0 8px;font-size:15px;font-weight:650}
h3:first-child{margin-top:0}
p{margin:6px 0}
code{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",
"DejaVu Sans Mono",monospace;background:#eff1f3;border-radius:4px;padding:1px 5px;
word-break:break-all}
table{border-collapse:collapse;width:100%;margin:4px 0 8px;font-size:13.5px}
th,td{padding:6px 9px;border-bottom:1px solid #eaeef2;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600;color:#57606a;font-size:12.5px;white-space:nowrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.center,th.center{text-align:center}
tr.fail td{background:#fff5f5}
table.keep-first td:first-child{white-space:nowrap}
tr.muted td{color:#6e7781}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px;
background:none;border:0;padding:0}
.tile{background:#fff;border:1px solid #d0d7de;border-radius:10px;padding:14px 16px}
.tile .label{color:#57606a;font-size:12.5px;font-weight:600;text-transform:uppercase;
letter-spacing:.03em}
.tile .value{font-size:26px;font-weight:700;font-variant-numeric:tabular-nums}
.tile .delta{font-size:13px;font-variant-numeric:tabular-nums}
.better{color:#1a7f37}.worse{color:#cf222e}.same{color:#57606a}
.pill{display:inline-block;padding:1px 10px;border-radius:999px;font-size:12px;font-weight:600;
white-space:nowrap}
.pill.passed{background:#dafbe1;color:#116329}
.pill.failed{background:#ffebe9;color:#a40e26}
.pill.skipped{background:#eaeef2;color:#57606a}
.pill.no_champion{background:#ddf4ff;color:#0550ae}
.ok{color:#1a7f37;font-weight:700}.ko{color:#cf222e;font-weight:700}
.gates{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:14px;
margin-top:14px}
.gate{border:1px solid #d0d7de;border-radius:8px;padding:12px 14px}
.gate.failed{border-color:#ff8182;background:#fffafa}
.gate header{display:flex;gap:10px;align-items:center;margin-bottom:4px}
.gate header strong{font-size:15px}
.gate .summary{color:#57606a;margin:0 0 6px}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(440px,1fr));gap:16px;
align-items:start}
figure{margin:0;border:1px solid #eaeef2;border-radius:8px;padding:8px;background:#fff}
figcaption{color:#57606a;font-size:12.5px;padding:4px 6px 0}
svg.chart{display:block;width:100%;height:auto;font-family:inherit}
.split{display:grid;grid-template-columns:minmax(300px,440px) minmax(0,1fr);gap:20px;
align-items:start}
@media (max-width:900px){.split{grid-template-columns:minmax(0,1fr)}}
ul.failures{margin:6px 0 0;padding-left:20px}
.note{color:#57606a}
footer{max-width:1240px;margin:0 auto;padding:0 40px 32px;color:#57606a;font-size:12.5px}
"""


def _e(value: object) -> str:
    """Every report-derived string goes through here, in text and in attributes alike."""
    return html.escape(str(value), quote=True)


def _n(value: float) -> str:
    """SVG coordinate with fixed precision, so output bytes do not depend on float noise."""
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


# --- generic HTML helpers -----------------------------------------------------------------------


def _table(
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    classes: str,
    row_classes: Sequence[str] | None = None,
    row_attrs: Sequence[str] | None = None,
    table_class: str = "",
) -> str:
    """A table from pre-escaped cells; `classes` gives one of l, r, c per column."""
    kinds = {"l": "", "r": ' class="num"', "c": ' class="center"'}
    head = "".join(f"<th{kinds[k]}>{h}</th>" for h, k in zip(header, classes, strict=True))
    body = []
    for i, row in enumerate(rows):
        css = row_classes[i] if row_classes else ""
        attrs = (f' class="{css}"' if css else "") + (row_attrs[i] if row_attrs else "")
        cells = "".join(f"<td{kinds[k]}>{c}</td>" for c, k in zip(row, classes, strict=True))
        body.append(f"<tr{attrs}>{cells}</tr>")
    css = f' class="{table_class}"' if table_class else ""
    return f"<table{css}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _pill(status: GateStatus) -> str:
    return f'<span class="pill {_e(status)}">{_e(STATUS_LABELS[status])}</span>'


def _mark(ok: object) -> str:
    return '<span class="ok">✓</span>' if ok is True else '<span class="ko">✗</span>'


def _key_values(pairs: Sequence[tuple[str, str]], code: bool) -> str:
    rows = [(_e(k), f"<code>{_e(v)}</code>" if code else _e(v)) for k, v in pairs]
    return _table(("Key", "Value"), rows, "ll")


# --- SVG chart helpers ---------------------------------------------------------------------------


def _nice_step(span: float, target: int) -> float:
    """Tick step of 1, 2, 2.5 or 5 times a power of ten, giving about `target` ticks."""
    if span <= 0:
        return 1.0
    raw = span / max(target, 1)
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def _ticks(low: float, high: float, target: int = 5) -> list[float]:
    """Multiples of a nice step inside [low, high]."""
    step = _nice_step(high - low, target)
    first, last = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
    return [round(i * step, 10) for i in range(first, last + 1)]


def _tick_label(value: float, step: float) -> str:
    """As many decimals as the tick step needs, and no more."""
    decimals = 0
    while decimals < 6 and abs(step * 10**decimals - round(step * 10**decimals)) > 1e-9:
        decimals += 1
    return f"{value:.{decimals}f}"


class _Plot:
    """A rectangular plot area mapping data coordinates to SVG pixels."""

    def __init__(
        self,
        width: int,
        height: int,
        x_range: tuple[float, float],
        y_range: tuple[float, float],
        margin: tuple[int, int, int, int] = (40, 18, 52, 60),
    ) -> None:
        self.width, self.height = width, height
        self.top, self.right, self.bottom, self.left = margin
        self.x0, self.x1 = x_range
        self.y0, self.y1 = y_range

    def x(self, value: float) -> float:
        span = (self.x1 - self.x0) or 1.0
        return self.left + (value - self.x0) / span * (self.width - self.left - self.right)

    def y(self, value: float) -> float:
        span = (self.y1 - self.y0) or 1.0
        inner = self.height - self.top - self.bottom
        return self.height - self.bottom - (value - self.y0) / span * inner

    def frame(
        self,
        title: str,
        x_label: str,
        y_label: str,
        x_ticks: Sequence[float],
        y_ticks: Sequence[float],
        x_fmt: str | None = None,
        y_fmt: str | None = None,
    ) -> list[str]:
        """Title, grid, axes, tick labels and axis labels."""
        parts = [
            f'<text x="{_n(self.width / 2)}" y="22" text-anchor="middle" font-size="15" '
            f'font-weight="600" fill="{TEXT_COLOR}">{_e(title)}</text>'
        ]
        x_step = x_ticks[1] - x_ticks[0] if len(x_ticks) > 1 else 1.0
        y_step = y_ticks[1] - y_ticks[0] if len(y_ticks) > 1 else 1.0
        bottom, top = self.y(self.y0), self.y(self.y1)
        left, right = self.x(self.x0), self.x(self.x1)
        for t in x_ticks:
            px = _n(self.x(t))
            label = f"{t:{x_fmt}}" if x_fmt else _tick_label(t, x_step)
            parts.append(
                f'<line x1="{px}" y1="{_n(top)}" x2="{px}" y2="{_n(bottom)}" '
                f'stroke="{GRID_COLOR}" stroke-width="1"/>'
                f'<text x="{px}" y="{_n(bottom + 16)}" text-anchor="middle" font-size="11" '
                f'fill="{AXIS_COLOR}">{_e(label)}</text>'
            )
        for t in y_ticks:
            py = _n(self.y(t))
            label = f"{t:{y_fmt}}" if y_fmt else _tick_label(t, y_step)
            parts.append(
                f'<line x1="{_n(left)}" y1="{py}" x2="{_n(right)}" y2="{py}" '
                f'stroke="{GRID_COLOR}" stroke-width="1"/>'
                f'<text x="{_n(left - 6)}" y="{_n(self.y(t) + 4)}" text-anchor="end" '
                f'font-size="11" fill="{AXIS_COLOR}">{_e(label)}</text>'
            )
        parts.append(
            f'<rect x="{_n(left)}" y="{_n(top)}" width="{_n(right - left)}" '
            f'height="{_n(bottom - top)}" fill="none" stroke="{AXIS_COLOR}" stroke-width="1"/>'
            f'<text x="{_n((left + right) / 2)}" y="{_n(bottom + 36)}" text-anchor="middle" '
            f'font-size="12" fill="{TEXT_COLOR}">{_e(x_label)}</text>'
            f'<text x="16" y="{_n((top + bottom) / 2)}" text-anchor="middle" font-size="12" '
            f'fill="{TEXT_COLOR}" transform="rotate(-90 16 {_n((top + bottom) / 2)})">'
            f"{_e(y_label)}</text>"
        )
        return parts

    def polyline(self, points: Sequence[tuple[float, float]], color: str, dash: str = "") -> str:
        coords = " ".join(f"{_n(self.x(px))},{_n(self.y(py))}" for px, py in points)
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        return (
            f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2.2" '
            f'stroke-linejoin="round"{dashed}/>'
        )


def _swatch(color: str, style: str, x: float, cy: float) -> str:
    """Legend key 18 px wide: a line (solid or dashed), a filled box, a hollow box or a dot."""
    if style == "box":
        return f'<rect x="{_n(x)}" y="{_n(cy - 5)}" width="18" height="10" fill="{color}"/>'
    if style == "small":
        return (
            f'<rect x="{_n(x)}" y="{_n(cy - 5)}" width="18" height="10" fill="{color}" '
            f'fill-opacity="0.3" stroke="{color}" stroke-dasharray="3 2"/>'
        )
    if style == "dot":
        return f'<circle cx="{_n(x + 9)}" cy="{_n(cy)}" r="4.5" fill="{color}"/>'
    dashed = f' stroke-dasharray="{style}"' if style else ""
    return (
        f'<line x1="{_n(x)}" y1="{_n(cy)}" x2="{_n(x + 18)}" y2="{_n(cy)}" '
        f'stroke="{color}" stroke-width="2.5"{dashed}/>'
    )


def _legend_label(x: float, cy: float, label: str) -> str:
    return (
        f'<text x="{_n(x)}" y="{_n(cy + 4)}" font-size="11.5" fill="{TEXT_COLOR}">'
        f"{_e(label)}</text>"
    )


def _legend(
    entries: Sequence[tuple[str, str, str]], x: float, y: float, width: float = 210
) -> list[str]:
    """Boxed, stacked legend; each entry is (label, color, swatch style)."""
    height = 10 + 18 * len(entries)
    parts = [
        f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(width)}" height="{_n(height)}" rx="4" '
        'fill="#ffffff" fill-opacity="0.92" stroke="#d0d7de"/>'
    ]
    for i, (label, color, style) in enumerate(entries):
        cy = y + 14 + 18 * i
        parts += [_swatch(color, style, x + 10, cy), _legend_label(x + 36, cy, label)]
    return parts


def _legend_row(entries: Sequence[tuple[str, str, str]], x: float, cy: float) -> list[str]:
    """Unboxed legend on one line, for charts whose plot area has no free corner."""
    parts = []
    for label, color, style in entries:
        parts += [_swatch(color, style, x, cy), _legend_label(x + 24, cy, label)]
        x += 24 + 6.6 * len(label) + 18
    return parts


def _svg(width: int, height: int, label: str, parts: Iterable[str]) -> str:
    """Inline SVG element; no xmlns needed (or wanted: it would be a URL) inside HTML5."""
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{_e(label)}"><title>{_e(label)}</title>{"".join(parts)}</svg>'
    )


def _points(curve: Sequence[CurvePoint]) -> list[tuple[float, float]]:
    return [(min(max(p.x, 0.0), 1.0), min(max(p.y, 0.0), 1.0)) for p in curve]


def _curve_chart(report: EvaluationReport, kind: str) -> str:
    """ROC or precision-recall curve; the champion dashed on top when there is one."""
    roc = kind == "roc"
    plot = _Plot(460, 400, (0.0, 1.0), (0.0, 1.0))
    title = "ROC curve" if roc else "Precision-recall curve"
    x_label = "False positive rate" if roc else "Recall"
    y_label = "True positive rate" if roc else "Precision"
    ticks = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    parts = plot.frame(title, x_label, y_label, ticks, ticks, ".1f", ".1f")
    legend: list[tuple[str, str, str]] = []
    if roc:
        parts.append(plot.polyline([(0.0, 0.0), (1.0, 1.0)], "#8c959f", "4 4"))
    auc = report.challenger.metrics.get("roc_auc")
    champion = report.champion
    if champion is not None:
        theirs = champion.scores.roc_curve if roc else champion.scores.pr_curve
        if theirs:
            parts.append(plot.polyline(_points(theirs), CHAMPION_COLOR, "7 4"))
            their_auc = champion.scores.metrics.get("roc_auc")
            suffix = f" (AUC {format_metric(their_auc)})" if roc and their_auc is not None else ""
            legend.append((f"{champion_label(report)}{suffix}", CHAMPION_COLOR, "7 4"))
    ours = report.challenger.roc_curve if roc else report.challenger.pr_curve
    if ours:
        parts.append(plot.polyline(_points(ours), CHALLENGER_COLOR))
        suffix = f" (AUC {format_metric(auc)})" if roc and auc is not None else ""
        legend.insert(0, (f"Challenger{suffix}", CHALLENGER_COLOR, ""))
    point = _operating_point(report.challenger.confusion, roc)
    if point is not None:
        parts.append(
            f'<circle cx="{_n(plot.x(point[0]))}" cy="{_n(plot.y(point[1]))}" r="5" '
            f'fill="{CHALLENGER_COLOR}" stroke="#fff" stroke-width="1.5"/>'
        )
        legend.append((f"Challenger at threshold {report.threshold:g}", CHALLENGER_COLOR, "dot"))
    if roc:
        legend.append(("Chance", "#8c959f", "4 4"))
    if not ours:
        parts.append(
            f'<text x="{_n(plot.x(0.5))}" y="{_n(plot.y(0.5))}" text-anchor="middle" '
            f'font-size="13" fill="{AXIS_COLOR}">no curve recorded</text>'
        )
    width = 250.0
    legend_x = plot.x(1.0) - width - 8 if roc else plot.x(0.0) + 8
    legend_y = plot.y(0.0) - 10 - 18 * len(legend) - 8
    parts += _legend(legend, legend_x, legend_y, width)
    return _svg(plot.width, plot.height, title, parts)


def _operating_point(confusion: ConfusionMatrix | None, roc: bool) -> tuple[float, float] | None:
    """Where the decision threshold sits on the curve, from the confusion counts."""
    if confusion is None:
        return None
    positives = confusion.true_positive + confusion.false_negative
    negatives = confusion.true_negative + confusion.false_positive
    predicted = confusion.true_positive + confusion.false_positive
    if positives == 0 or negatives == 0 or predicted == 0:
        return None
    recall = confusion.true_positive / positives
    if roc:
        return confusion.false_positive / negatives, recall
    return recall, confusion.true_positive / predicted


def _negative_label(report: EvaluationReport) -> str:
    """The report names only the positive class; golden-row predictions reveal the other."""
    for row in report.golden_rows:
        for label in (row.challenger_prediction, row.champion_prediction):
            if label is not None and label != report.positive_class:
                return label
    return f"not {report.positive_class}"


def _confusion_chart(report: EvaluationReport, confusion: ConfusionMatrix) -> str:
    """2x2 grid, shaded by count, with share of all rows in each cell."""
    width, height = 460, 400
    left, top, cell = 130, 78, 150
    negative, positive = _negative_label(report), report.positive_class
    cells = [
        (0, 0, "True negative", confusion.true_negative, True),
        (0, 1, "False positive", confusion.false_positive, False),
        (1, 0, "False negative", confusion.false_negative, False),
        (1, 1, "True positive", confusion.true_positive, True),
    ]
    total = sum(c[3] for c in cells) or 1
    peak = max(c[3] for c in cells) or 1
    parts = [
        f'<text x="{width / 2:.0f}" y="22" text-anchor="middle" font-size="15" font-weight="600" '
        f'fill="{TEXT_COLOR}">Confusion matrix at threshold {report.threshold:g}</text>',
        f'<text x="{left + cell:.0f}" y="50" text-anchor="middle" font-size="12" '
        f'fill="{TEXT_COLOR}">Predicted</text>',
        f'<text x="24" y="{top + cell:.0f}" text-anchor="middle" font-size="12" '
        f'fill="{TEXT_COLOR}" transform="rotate(-90 24 {top + cell:.0f})">Actual</text>',
    ]
    for i, label in enumerate((negative, positive)):
        parts.append(
            f'<text x="{left + cell * i + cell / 2:.0f}" y="{top - 8}" text-anchor="middle" '
            f'font-size="12" fill="{AXIS_COLOR}">{_e(label)}</text>'
            f'<text x="{left - 10}" y="{top + cell * i + cell / 2 + 4:.0f}" text-anchor="end" '
            f'font-size="12" fill="{AXIS_COLOR}">{_e(label)}</text>'
        )
    for row, col, name, count, correct in cells:
        x, y = left + col * cell, top + row * cell
        strength = 0.12 + 0.78 * (count / peak)
        base = "26,127,55" if correct else "207,34,46"
        ink = "#ffffff" if strength > 0.5 else TEXT_COLOR
        parts.append(
            f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" '
            f'fill="rgba({base},{strength:.3f})" stroke="#ffffff" stroke-width="3"/>'
            f'<text x="{x + cell / 2:.0f}" y="{y + cell / 2 - 4:.0f}" text-anchor="middle" '
            f'font-size="22" font-weight="700" fill="{ink}">{format_count(count)}</text>'
            f'<text x="{x + cell / 2:.0f}" y="{y + cell / 2 + 16:.0f}" text-anchor="middle" '
            f'font-size="11.5" fill="{ink}">{name} · {count / total:.1%}</text>'
        )
    return _svg(width, height, "Confusion matrix", parts)


def _fairness_chart(fairness: FairnessResult) -> str:
    """Selection rate per group; small groups drawn hollow and dashed, since they don't count."""
    groups = fairness.groups
    bar, gap = 24, 12
    width, top, bottom = 560, 40, 84
    height = top + len(groups) * (bar + gap) + gap + bottom
    peak = max((g.selection_rate for g in groups), default=0.0)
    high = max(0.1, math.ceil(peak * 1.15 * 10) / 10)
    names = [f"{g.group} (n={format_count(g.count)})" for g in groups]
    left = min(260, max(110, round(6.8 * max((len(n) for n in names), default=0)) + 18))
    plot = _Plot(width, height, (0.0, high), (0.0, 1.0), margin=(top, 96, bottom, left))
    title = f"{fairness.feature}: selection rate by group"
    x_label = "Selection rate (share predicted positive)"
    parts = plot.frame(title, x_label, "", _ticks(0.0, high, 5), [])
    for i, (group, name) in enumerate(zip(groups, names, strict=True)):
        y = top + gap + i * (bar + gap)
        x0, x1 = plot.x(0.0), plot.x(min(max(group.selection_rate, 0.0), high))
        style = (
            f'fill="{CHALLENGER_COLOR}" fill-opacity="0.3" stroke="{CHALLENGER_COLOR}" '
            'stroke-dasharray="4 3"'
            if group.small
            else f'fill="{CHALLENGER_COLOR}"'
        )
        label = format_metric(group.selection_rate) + (" · small" if group.small else "")
        parts.append(
            f'<text x="{_n(x0 - 8)}" y="{_n(y + bar / 2 + 4)}" text-anchor="end" font-size="12" '
            f'fill="{TEXT_COLOR}">{_e(name)}</text>'
            f'<rect x="{_n(x0)}" y="{_n(y)}" width="{_n(max(x1 - x0, 1.0))}" height="{bar}" '
            f"{style}/>"
            f'<text x="{_n(x1 + 6)}" y="{_n(y + bar / 2 + 4)}" font-size="11.5" '
            f'fill="{TEXT_COLOR}">{_e(label)}</text>'
        )
    legend = [("Group in verdict", CHALLENGER_COLOR, "box")]
    if any(g.small for g in groups):
        legend.append(("Small group (reported only)", CHALLENGER_COLOR, "small"))
    row_y = height - 14
    parts += _legend_row(legend, 16, row_y)
    parts.append(
        f'<text x="{_n(width - 12)}" y="{_n(row_y + 4)}" text-anchor="end" font-size="11.5" '
        f'font-weight="600" fill="{TEXT_COLOR}">DPD '
        f"{format_metric(fairness.demographic_parity_difference)} · EOD "
        f"{format_metric(fairness.equalized_odds_difference)}</text>"
    )
    return _svg(width, height, title, parts)


def _histogram(samples: Sequence[float]) -> tuple[list[tuple[float, float, int]], float]:
    """Equal-width bins (about sqrt(n), 8 to 30) over the sample range; returns bins and width."""
    low, high = min(samples), max(samples)
    count = min(30, max(8, round(math.sqrt(len(samples)))))
    step = _nice_step(max(high - low, abs(high) * 0.1, 0.01), count)
    start = math.floor(low / step) * step
    bins: list[tuple[float, float, int]] = []
    edge = start
    while edge <= high or not bins:
        bins.append((edge, edge + step, 0))
        edge = round(edge + step, 10)
    counts = [0] * len(bins)
    for value in samples:
        index = min(int((value - start) // step), len(bins) - 1)
        counts[max(index, 0)] += 1
    return [(a, b, c) for (a, b, _), c in zip(bins, counts, strict=True)], step


def _latency_chart(latency: LatencyResult) -> str:
    """Single-row latency distribution with the gate's percentiles marked."""
    bins, step = _histogram(latency.samples_ms)
    marks = [("p50", latency.p50_ms), ("p95", latency.p95_ms), ("p99", latency.p99_ms)]
    x_low = bins[0][0]
    x_high = max(bins[-1][1], *(v for _, v in marks))
    peak = max(c for _, _, c in bins)
    y_ticks = _ticks(0.0, peak * 1.1, 5)
    y_high = max(y_ticks[-1], peak * 1.1)
    plot = _Plot(560, 420, (x_low, x_high), (0.0, y_high), margin=(46, 18, 84, 60))
    title = f"Single-row latency ({len(latency.samples_ms)} requests)"
    parts = plot.frame(title, "Latency (ms)", "Requests", _ticks(x_low, x_high, 8), y_ticks)
    for a, b, c in bins:
        if c == 0:
            continue
        x0, x1 = plot.x(a), plot.x(b)
        parts.append(
            f'<rect x="{_n(x0 + 1)}" y="{_n(plot.y(c))}" width="{_n(max(x1 - x0 - 2, 1.0))}" '
            f'height="{_n(plot.y(0) - plot.y(c))}" fill="{CHALLENGER_COLOR}" fill-opacity="0.75"/>'
        )
    legend = []
    for name, value in marks:
        px = _n(plot.x(value))
        color = PERCENTILE_COLORS[name]
        parts.append(
            f'<line x1="{px}" y1="{_n(plot.y(y_high))}" x2="{px}" y2="{_n(plot.y(0))}" '
            f'stroke="{color}" stroke-width="2" stroke-dasharray="6 3"/>'
            f'<text x="{px}" y="{_n(plot.y(y_high) - 5)}" text-anchor="middle" font-size="11" '
            f'font-weight="600" fill="{color}">{name}</text>'
        )
        legend.append((f"{name} {format_ms(value)} ms", color, "6 3"))
    legend.append((f"Requests per {step:g} ms bin", CHALLENGER_COLOR, "box"))
    parts += _legend_row(legend, 16, plot.height - 14)
    return _svg(plot.width, plot.height, title, parts)


def _figure(svg: str, caption: str = "") -> str:
    text = f"<figcaption>{caption}</figcaption>" if caption else ""
    return f"<figure>{svg}{text}</figure>"


# --- sections ------------------------------------------------------------------------------------


def _banner(report: EvaluationReport) -> str:
    status = "passed" if report.passed else "failed"
    champion = f"champion v{_e(report.champion.version)}" if report.champion else "no champion yet"
    facts = " · ".join(
        [
            f"<code>{_e(report.model_type)}</code>",
            f"environment <code>{_e(report.environment)}</code>",
            f"run <code>{_e(report.run_name)}</code>",
            champion,
            f"{format_count(report.golden_rows_evaluated)} golden-set rows",
            f"threshold {report.threshold:g} for <code>{_e(report.positive_class)}</code>",
        ]
    )
    mark = "✓" if report.passed else "✗"
    return (
        f'<header class="banner {status}"><div class="kicker">Evaluation report</div>'
        f"<h1>{mark} {_e(verdict_text(report))}</h1>"
        f'<p class="model">{_e(report.model_name)}</p><p class="facts">{facts}</p></header>'
    )


def _delta_class(metric: str, delta: float) -> str:
    if delta == 0:
        return "same"
    improved = delta < 0 if lower_is_better(metric) else delta > 0
    return "better" if improved else "worse"


def _tiles(report: EvaluationReport) -> str:
    deltas = report.metric_deltas()
    tiles = []
    for name, value in report.challenger.metrics.items():
        delta = deltas.get(name)
        if delta is None or report.champion is None:
            sub = '<div class="delta same">no champion yet</div>'
        else:
            theirs = format_metric(report.champion.scores.metrics.get(name))
            sub = (
                f'<div class="delta {_delta_class(name, delta)}">{format_delta(delta)} vs '
                f'v{_e(report.champion.version)} <span class="same">({theirs})</span></div>'
            )
        tiles.append(
            f'<div class="tile"><div class="label">{_e(metric_label(name))}</div>'
            f'<div class="value">{format_metric(value)}</div>{sub}</div>'
        )
    return f'<section class="tiles" aria-label="Headline metrics">{"".join(tiles)}</section>'


def _check_cells(check: Check) -> tuple[str, ...]:
    name = _e(check.name) + (
        "" if check.counts_for_verdict else ' <span class="note">(info)</span>'
    )
    return (
        name,
        format_check_value(check.name, check.observed),
        _e(COMPARISON_SYMBOLS.get(check.comparison, check.comparison)),
        format_check_value(check.name, check.threshold),
        format_margin(check.name, check.margin),
        _mark(check.passed),
    )


def _gate_card(gate: GateResult) -> str:
    checks = (
        _table(
            ("Check", "Observed", "", "Threshold", "Margin", "Pass"),
            [_check_cells(c) for c in gate.checks],
            "lrcrrc",
            [
                "fail" if not c.passed else ("muted" if not c.counts_for_verdict else "")
                for c in gate.checks
            ],
        )
        if gate.checks
        else '<p class="note">No checks recorded.</p>'
    )
    summary = _e(gate.summary) if gate.summary else _e(STATUS_LABELS[gate.status])
    return (
        f'<div class="gate {_e(gate.status)}"><header>{_pill(gate.status)}'
        f"<strong>{_e(gate.gate)}</strong></header>"
        f'<p class="summary">{summary}</p>{checks}</div>'
    )


def _gates(report: EvaluationReport) -> str:
    if not report.gates:
        return '<section id="gates"><h2>Gates</h2><p class="note">No gates evaluated.</p></section>'
    overview = _table(
        ("Status", "Gate", "Summary"),
        [
            (_pill(g.status), f"<strong>{_e(g.gate)}</strong>", _e(g.summary) or DASH)
            for g in report.gates
        ],
        "lll",
    )
    cards = "".join(_gate_card(g) for g in report.gates)
    return (
        f'<section id="gates"><h2>Gates</h2>{overview}'
        f'<h3>Checks and margins</h3><p class="note">Margin is the room to spare: negative means '
        f'the check failed by that much.</p><div class="gates">{cards}</div></section>'
    )


def _metrics(report: EvaluationReport) -> str:
    theirs = report.champion.scores.metrics if report.champion else {}
    deltas = report.metric_deltas()
    rows, attrs = [], []
    for name, value in report.challenger.metrics.items():
        delta = deltas.get(name)
        delta_text = format_delta(delta)
        if delta is not None:
            delta_text = f'<span class="{_delta_class(name, delta)}">{delta_text}</span>'
        label = _e(metric_label(name)) + (
            ' <span class="note">(lower is better)</span>' if lower_is_better(name) else ""
        )
        rows.append((label, format_metric(value), format_metric(theirs.get(name)), delta_text))
        attrs.append(f' data-metric="{_e(name)}"')
    table = _table(
        ("Metric", "Challenger", _e(champion_label(report)), "Δ"), rows, "lrrr", None, attrs
    )
    error = champion_error(report)
    if error:
        table += f'<p class="worse">{_e(error)}</p>'
    charts = _figure(_curve_chart(report, "roc")) + _figure(_curve_chart(report, "pr"))
    return (
        f'<section id="metrics"><h2>Golden-set metrics</h2>{table}'
        f'<div class="charts">{charts}</div></section>'
    )


def _scores_section(report: EvaluationReport) -> str:
    scores = report.challenger
    facts = [
        ("Decision threshold", f"{report.threshold:g}"),
        ("Positive class", _e(report.positive_class)),
        ("Golden-set rows", format_count(report.golden_rows_evaluated)),
        ("Predicted positive rate", format_metric(scores.positive_rate)),
        ("Probability std", format_metric(scores.probability_std)),
    ]
    table = _table(("Quantity", "Value"), facts, "lr")
    if scores.confusion is None:
        chart = '<p class="note">No confusion matrix recorded.</p>'
    else:
        chart = _figure(_confusion_chart(report, scores.confusion))
    return (
        f'<section id="confusion"><h2>Predictions at the threshold</h2>'
        f'<div class="split">{chart}<div>{table}</div></div></section>'
    )


def _fairness(report: EvaluationReport) -> str:
    if not report.fairness:
        return (
            '<section id="fairness"><h2>Fairness</h2>'
            '<p class="note">No sensitive features evaluated.</p></section>'
        )
    blocks = []
    for fairness in report.fairness:
        rows = [
            (
                _e(g.group),
                format_count(g.count),
                format_metric(g.selection_rate),
                format_metric(g.accuracy),
                format_metric(g.true_positive_rate),
                format_metric(g.false_positive_rate),
                _e(group_note(g, fairness)),
            )
            for g in fairness.groups
        ]
        table = _table(
            ("Group", "Count", "Selection rate", "Accuracy", "TPR", "FPR", "Note"),
            rows,
            "lrrrrrl",
            ["muted" if g.small else "" for g in fairness.groups],
            table_class="keep-first",
        )
        verdict = ", ".join(_e(g) for g in fairness.groups_in_verdict) or DASH
        note = (
            '<p class="note">Small groups are shown but excluded from the verdict: too few rows '
            "for a stable rate.</p>"
            if any(g.small for g in fairness.groups)
            else ""
        )
        blocks.append(
            f"<h3>{_e(fairness.feature)}</h3><p>Demographic parity difference "
            f"<strong>{format_metric(fairness.demographic_parity_difference)}</strong> · "
            f"equalized odds difference "
            f"<strong>{format_metric(fairness.equalized_odds_difference)}</strong> · "
            f"groups in verdict: {verdict}</p>"
            f'<div class="split">{_figure(_fairness_chart(fairness))}<div>{table}{note}</div></div>'
        )
    return f'<section id="fairness"><h2>Fairness</h2>{"".join(blocks)}</section>'


def _latency_cells(label: str, latency: LatencyResult) -> tuple[str, ...]:
    return (
        label,
        format_ms(latency.p50_ms),
        format_ms(latency.p95_ms),
        format_ms(latency.p99_ms),
        format_ms(latency.mean_ms),
        format_rows_per_second(latency.batch_rows_per_second),
        format_count(latency.batch_size),
    )


def _latency(report: EvaluationReport) -> str:
    rows = []
    if report.latency is not None:
        rows.append(_latency_cells("Challenger", report.latency))
    if report.champion is not None and report.champion.latency is not None:
        rows.append(_latency_cells(_e(champion_label(report)), report.champion.latency))
    if not rows:
        return (
            '<section id="latency"><h2>Latency</h2>'
            '<p class="note">Latency was not measured.</p></section>'
        )
    table = _table(
        ("Model", "p50 ms", "p95 ms", "p99 ms", "Mean ms", "Batch rows/s", "Batch size"),
        rows,
        "lrrrrrr",
        table_class="keep-first",
    )
    chart = ""
    if report.latency is not None and report.latency.samples_ms:
        chart = _figure(_latency_chart(report.latency))
    return (
        f'<section id="latency"><h2>Latency</h2><div class="split">{chart}<div>{table}'
        f'<p class="note">Single-row requests after warm-up; throughput measured on batches.'
        f"</p></div></div></section>"
    )


def _golden_rows(report: EvaluationReport) -> str:
    total = len(report.golden_rows)
    flipped = [r for r in report.golden_rows if r.flipped]
    if total == 0:
        body = '<p class="note">No canonical rows were scored.</p>'
    elif not flipped:
        body = f"<p>No flips across {total:,} canonical rows.</p>"
    else:
        against = f"champion v{_e(report.champion.version)}" if report.champion else "the champion"
        rows = [
            (
                str(r.row),
                _e(r.challenger_prediction),
                format_metric(r.challenger_probability),
                _e(r.champion_prediction) if r.champion_prediction is not None else DASH,
                format_metric(r.champion_probability),
            )
            for r in flipped
        ]
        body = f"<p>{len(flipped):,} of {total:,} canonical rows flipped versus {against}:</p>"
        body += _table(
            ("Row", "Challenger", "Probability", "Champion", "Probability"), rows, "rlrlr"
        )
    return f'<section id="golden-rows"><h2>Golden rows</h2>{body}</section>'


def _data_validation(data_validation: Mapping[str, Any]) -> str:
    if not data_validation:
        body = '<p class="note">No data validation result recorded.</p>'
    else:
        success = data_validation.get("success")
        suite = data_validation.get("suite")
        body = (
            f"<p>{_mark(success)} suite <code>{_e(suite or DASH)}</code> "
            f"{'succeeded' if success is True else 'failed'}</p>"
        )
        batches = validation_batches(data_validation)
        if batches:
            rows = []
            for batch in batches:
                name, evaluated, successful, count = validation_batch_cells(batch)
                rows.append((_e(name), _mark(batch.get("success")), evaluated, successful, count))
            body += _table(("Batch", "Success", "Evaluated", "Successful", "Rows"), rows, "lcrrr")
        failures = validation_failures(data_validation)
        if failures:
            items = "".join(f"<li><code>{_e(f)}</code></li>" for f in failures)
            body += (
                f'<p>{len(failures)} failed expectation(s):</p><ul class="failures">{items}</ul>'
            )
    return f'<section id="data-validation"><h2>Data validation</h2>{body}</section>'


def _training(training: Mapping[str, Any]) -> str:
    pairs = training_rows(training)
    table = _key_values(pairs, code=False) if pairs else '<p class="note">Not recorded.</p>'
    return f'<section id="training"><h2>Training</h2>{table}</section>'


def _lineage(lineage: Mapping[str, str]) -> str:
    pairs = list(lineage.items())
    body = _key_values(pairs, code=True) if pairs else '<p class="note">Not recorded.</p>'
    return f'<section id="lineage"><h2>Lineage</h2>{body}</section>'


def render_html(report: EvaluationReport) -> str:
    """The offline, self-contained HTML form of the report."""
    title = f"{report.model_name}: {verdict_text(report)}"
    body = "".join(
        [
            _banner(report),
            "<main>",
            _tiles(report),
            _gates(report),
            _metrics(report),
            _scores_section(report),
            _fairness(report),
            _latency(report),
            _golden_rows(report),
            _data_validation(report.data_validation),
            _training(report.training),
            _lineage(report.lineage),
            "</main>",
            f"<footer>Report created {_e(report.created_at)} · schema version "
            f"{report.schema_version} · sha256 <code>{report.sha256()}</code></footer>",
        ]
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>"
        f"<body>{body}</body></html>\n"
    )
