"""The report's charts: ROC and precision-recall curves, confusion matrix, fairness, latency.

Each function draws one self-contained SVG from report data alone, with the plotting kit in
`svg`; nothing here knows about the page around it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from mlcicd.reporting.formatting import champion_label, format_count, format_metric, format_ms
from mlcicd.reporting.html.svg import (
    AXIS_COLOR,
    CHALLENGER_COLOR,
    CHAMPION_COLOR,
    PERCENTILE_COLORS,
    TEXT_COLOR,
    Plot,
    esc,
    legend_box,
    legend_row,
    nice_step,
    num,
    svg_chart,
    ticks,
)
from mlcicd.reporting.model import (
    ConfusionMatrix,
    CurvePoint,
    EvaluationReport,
    FairnessResult,
    LatencyResult,
)


def _points(curve: Sequence[CurvePoint]) -> list[tuple[float, float]]:
    """Curve points clamped to the unit square, so a stray value cannot leave the plot."""
    return [(min(max(p.x, 0.0), 1.0), min(max(p.y, 0.0), 1.0)) for p in curve]


def curve_chart(report: EvaluationReport, kind: str) -> str:
    """ROC or precision-recall curve; the champion dashed on top when there is one."""
    roc = kind == "roc"
    plot = Plot(460, 400, (0.0, 1.0), (0.0, 1.0))
    title = "ROC curve" if roc else "Precision-recall curve"
    x_label = "False positive rate" if roc else "Recall"
    y_label = "True positive rate" if roc else "Precision"
    unit_ticks = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    parts = plot.frame(title, x_label, y_label, unit_ticks, unit_ticks, ".1f", ".1f")
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
            f'<circle cx="{num(plot.x(point[0]))}" cy="{num(plot.y(point[1]))}" r="5" '
            f'fill="{CHALLENGER_COLOR}" stroke="#fff" stroke-width="1.5"/>'
        )
        legend.append((f"Challenger at threshold {report.threshold:g}", CHALLENGER_COLOR, "dot"))
    if roc:
        legend.append(("Chance", "#8c959f", "4 4"))
    if not ours:
        parts.append(
            f'<text x="{num(plot.x(0.5))}" y="{num(plot.y(0.5))}" text-anchor="middle" '
            f'font-size="13" fill="{AXIS_COLOR}">no curve recorded</text>'
        )
    width = 250.0
    legend_x = plot.x(1.0) - width - 8 if roc else plot.x(0.0) + 8
    legend_y = plot.y(0.0) - 10 - 18 * len(legend) - 8
    parts += legend_box(legend, legend_x, legend_y, width)
    return svg_chart(plot.width, plot.height, title, parts)


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


def confusion_chart(report: EvaluationReport, confusion: ConfusionMatrix) -> str:
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
            f'font-size="12" fill="{AXIS_COLOR}">{esc(label)}</text>'
            f'<text x="{left - 10}" y="{top + cell * i + cell / 2 + 4:.0f}" text-anchor="end" '
            f'font-size="12" fill="{AXIS_COLOR}">{esc(label)}</text>'
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
    return svg_chart(width, height, "Confusion matrix", parts)


def fairness_chart(fairness: FairnessResult) -> str:
    """Selection rate per group; small groups drawn hollow and dashed, since they don't count."""
    groups = fairness.groups
    bar, gap = 24, 12
    width, top, bottom = 560, 40, 84
    height = top + len(groups) * (bar + gap) + gap + bottom
    peak = max((g.selection_rate for g in groups), default=0.0)
    high = max(0.1, math.ceil(peak * 1.15 * 10) / 10)
    names = [f"{g.group} (n={format_count(g.count)})" for g in groups]
    left = min(260, max(110, round(6.8 * max((len(n) for n in names), default=0)) + 18))
    plot = Plot(width, height, (0.0, high), (0.0, 1.0), margin=(top, 96, bottom, left))
    title = f"{fairness.feature}: selection rate by group"
    x_label = "Selection rate (share predicted positive)"
    parts = plot.frame(title, x_label, "", ticks(0.0, high, 5), [])
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
            f'<text x="{num(x0 - 8)}" y="{num(y + bar / 2 + 4)}" text-anchor="end" font-size="12" '
            f'fill="{TEXT_COLOR}">{esc(name)}</text>'
            f'<rect x="{num(x0)}" y="{num(y)}" width="{num(max(x1 - x0, 1.0))}" height="{bar}" '
            f"{style}/>"
            f'<text x="{num(x1 + 6)}" y="{num(y + bar / 2 + 4)}" font-size="11.5" '
            f'fill="{TEXT_COLOR}">{esc(label)}</text>'
        )
    legend = [("Group in verdict", CHALLENGER_COLOR, "box")]
    if any(g.small for g in groups):
        legend.append(("Small group (reported only)", CHALLENGER_COLOR, "small"))
    row_y = height - 14
    parts += legend_row(legend, 16, row_y)
    parts.append(
        f'<text x="{num(width - 12)}" y="{num(row_y + 4)}" text-anchor="end" font-size="11.5" '
        f'font-weight="600" fill="{TEXT_COLOR}">DPD '
        f"{format_metric(fairness.demographic_parity_difference)} · EOD "
        f"{format_metric(fairness.equalized_odds_difference)}</text>"
    )
    return svg_chart(width, height, title, parts)


def _histogram(samples: Sequence[float]) -> tuple[list[tuple[float, float, int]], float]:
    """Equal-width bins (about sqrt(n), 8 to 30) over the sample range; returns bins and width."""
    low, high = min(samples), max(samples)
    count = min(30, max(8, round(math.sqrt(len(samples)))))
    step = nice_step(max(high - low, abs(high) * 0.1, 0.01), count)
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


def latency_chart(latency: LatencyResult) -> str:
    """Single-row latency distribution with the gate's percentiles marked."""
    bins, step = _histogram(latency.samples_ms)
    marks = [("p50", latency.p50_ms), ("p95", latency.p95_ms), ("p99", latency.p99_ms)]
    x_low = bins[0][0]
    x_high = max(bins[-1][1], *(v for _, v in marks))
    peak = max(c for _, _, c in bins)
    y_ticks = ticks(0.0, peak * 1.1, 5)
    y_high = max(y_ticks[-1], peak * 1.1)
    plot = Plot(560, 420, (x_low, x_high), (0.0, y_high), margin=(46, 18, 84, 60))
    title = f"Single-row latency ({len(latency.samples_ms)} requests)"
    parts = plot.frame(title, "Latency (ms)", "Requests", ticks(x_low, x_high, 8), y_ticks)
    for a, b, c in bins:
        if c == 0:
            continue
        x0, x1 = plot.x(a), plot.x(b)
        parts.append(
            f'<rect x="{num(x0 + 1)}" y="{num(plot.y(c))}" width="{num(max(x1 - x0 - 2, 1.0))}" '
            f'height="{num(plot.y(0) - plot.y(c))}" fill="{CHALLENGER_COLOR}" fill-opacity="0.75"/>'
        )
    legend = []
    for name, value in marks:
        px = num(plot.x(value))
        color = PERCENTILE_COLORS[name]
        parts.append(
            f'<line x1="{px}" y1="{num(plot.y(y_high))}" x2="{px}" y2="{num(plot.y(0))}" '
            f'stroke="{color}" stroke-width="2" stroke-dasharray="6 3"/>'
            f'<text x="{px}" y="{num(plot.y(y_high) - 5)}" text-anchor="middle" font-size="11" '
            f'font-weight="600" fill="{color}">{name}</text>'
        )
        legend.append((f"{name} {format_ms(value)} ms", color, "6 3"))
    legend.append((f"Requests per {step:g} ms bin", CHALLENGER_COLOR, "box"))
    parts += legend_row(legend, 16, plot.height - 14)
    return svg_chart(plot.width, plot.height, title, parts)
