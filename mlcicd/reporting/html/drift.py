"""Drift findings in HTML: the per-column table, reference-versus-current charts, a page.

One section serves the evaluation report, the drift step's own page and every monitoring
window, so a column's PSI reads the same wherever it appears. Cells and verdicts come from
`mlcicd.reporting.formatting`, shared with the Markdown; charts are drawn with `svg`.
"""

from __future__ import annotations

import math

from mlcicd.reporting.drift import DriftReport, FeatureDrift
from mlcicd.reporting.formatting import (
    format_count,
)
from mlcicd.reporting.html.page import banner, code, escaped_cells, figure, page_shell, pill
from mlcicd.reporting.html.svg import (
    AXIS_COLOR,
    CHALLENGER_COLOR,
    CHAMPION_COLOR,
    TEXT_COLOR,
    Plot,
    esc,
    legend_row,
    num,
    svg_chart,
    ticks,
)
from mlcicd.reporting.model import GateStatus
from mlcicd.reporting.monitoring_formatting import (
    DRIFT_COLUMNS,
    chart_title,
    charted_features,
    drift_facts,
    drift_headline,
    drift_status,
    feature_cells,
    feature_status,
    feature_verdict,
    format_share,
    sorted_features,
)

# A country column has dozens of values; past this many bars a chart stops being readable, so
# the smallest bins are drawn as one.
MAX_CHART_BINS = 20
_LABEL_CHARS = 28
_ROW_CLASSES: dict[GateStatus, str] = {"failed": "fail", "warned": "warn", "skipped": "muted"}
_MARKS: dict[GateStatus, str] = {"passed": "✓", "warned": "⚠", "failed": "✗"}


# --- chart ---------------------------------------------------------------------------------------


def _chart_bins(feature: FeatureDrift) -> tuple[list[tuple[str, float, float]], str]:
    """Bins worth a bar, and a note on what was left out or merged.

    Bins empty on both sides are dropped; beyond MAX_CHART_BINS, the bins with the smallest
    share on either side are merged into one, keeping the rest in their own order.
    """
    rows = list(zip(feature.bins, feature.reference_shares, feature.current_shares, strict=False))
    kept = [r for r in rows if r[1] > 0 or r[2] > 0]
    notes = []
    if len(kept) < len(rows):
        notes.append(f"{len(rows) - len(kept)} empty bin(s) not shown")
    if len(kept) > MAX_CHART_BINS:
        ranked = sorted(range(len(kept)), key=lambda i: (-max(kept[i][1], kept[i][2]), i))
        keep = set(ranked[: MAX_CHART_BINS - 1])
        rest = [r for i, r in enumerate(kept) if i not in keep]
        merged = (
            f"{len(rest)} smaller bins",
            sum(r[1] for r in rest),
            sum(r[2] for r in rest),
        )
        kept = [r for i, r in enumerate(kept) if i in keep] + [merged]
        notes.append(f"{len(rest)} smaller bins merged")
    return kept, " · ".join(notes)


def _short(label: str) -> str:
    return label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"


def drift_chart(feature: FeatureDrift) -> str:
    """Reference and current share of rows per bin, as paired horizontal bars."""
    bins, note = _chart_bins(feature)
    bar, pair_gap, group_gap = 10, 2, 12
    group = 2 * bar + pair_gap + group_gap
    width, top, bottom = 560, 40, 76
    height = top + max(len(bins), 1) * group + bottom
    peak = max((max(r, c) for _, r, c in bins), default=0.0)
    high = min(1.0, max(0.1, math.ceil(peak * 1.15 * 10) / 10))
    labels = [_short(b) for b, _, _ in bins]
    left = min(220, max(90, round(6.8 * max((len(b) for b in labels), default=0)) + 18))
    plot = Plot(width, height, (0.0, high), (0.0, 1.0), margin=(top, 60, bottom, left))
    title = chart_title(feature)
    parts = plot.frame(title, "Share of rows", "", ticks(0.0, high, 5), [], x_fmt=".0%")
    x0 = plot.x(0.0)
    for i, (label, (_, ref, cur)) in enumerate(zip(labels, bins, strict=True)):
        y = top + group_gap / 2 + i * group
        parts.append(
            f'<text x="{num(x0 - 8)}" y="{num(y + bar + pair_gap / 2 + 4)}" text-anchor="end" '
            f'font-size="12" fill="{TEXT_COLOR}">{esc(label)}</text>'
        )
        for offset, share, color in (
            (0, ref, CHAMPION_COLOR),
            (bar + pair_gap, cur, CHALLENGER_COLOR),
        ):
            x1 = plot.x(min(max(share, 0.0), high))
            parts.append(
                f'<rect x="{num(x0)}" y="{num(y + offset)}" width="{num(max(x1 - x0, 1.0))}" '
                f'height="{bar}" fill="{color}"/>'
                f'<text x="{num(x1 + 5)}" y="{num(y + offset + bar - 1)}" font-size="10" '
                f'fill="{AXIS_COLOR}">{format_share(share)}</text>'
            )
    if not bins:
        parts.append(
            f'<text x="{num((x0 + plot.x(high)) / 2)}" y="{num(top + group / 2 + 4)}" '
            f'text-anchor="middle" font-size="13" fill="{AXIS_COLOR}">no bins recorded</text>'
        )
    legend = [
        (f"Reference ({format_count(feature.reference_rows)} rows)", CHAMPION_COLOR, "box"),
        (f"Current ({format_count(feature.current_rows)} rows)", CHALLENGER_COLOR, "box"),
    ]
    row_y = height - 14
    parts += legend_row(legend, 16, row_y)
    if note:
        parts.append(
            f'<text x="{num(width - 12)}" y="{num(row_y + 4)}" text-anchor="end" '
            f'font-size="11" fill="{AXIS_COLOR}">{esc(note)}</text>'
        )
    return svg_chart(width, height, title, parts)


# --- section -------------------------------------------------------------------------------------


def _feature_row(feature: FeatureDrift, on_drift: str) -> tuple[str, ...]:
    status = feature_status(feature, on_drift)
    reason = f' <span class="note">{esc(feature.reason)}</span>' if feature.reason else ""
    return (*escaped_cells(feature_cells(feature)), pill(status, feature_verdict(feature)) + reason)


def _feature_table(features: list[FeatureDrift], on_drift: str) -> str:
    from mlcicd.reporting.html.page import render_table

    return render_table(
        DRIFT_COLUMNS,
        [_feature_row(f, on_drift) for f in features],
        [_ROW_CLASSES.get(feature_status(f, on_drift), "") for f in features],
        table_class="keep-first",
    )


def drift_section(drift: DriftReport, heading: str = "Data drift", anchor: str = "drift") -> str:
    """Every compared column, drifted first, with charts of the ones worth looking at.

    `anchor` is the section's id: a monitoring page holds one section per window.
    """
    status = drift_status(drift)
    title = f"<h2>{esc(heading)} {pill(status, drift_headline(drift))}</h2>"
    if not drift.compared:
        body = f'<p class="note">{esc(drift.summary())}</p>'
    else:
        facts = " · ".join(esc(f) for f in drift_facts(drift))
        charted = charted_features(drift)
        why = (
            "every drifted column"
            if drift.drifted_features
            else f"no column drifted: the {len(charted)} of highest PSI"
        )
        charts = "".join(figure(drift_chart(f)) for f in charted)
        body = (
            f'<p>{esc(drift.summary())}</p><p class="note">{facts}</p>'
            f"{_feature_table(sorted_features(drift.features), drift.on_drift)}"
            f'<h3>Reference versus current</h3><p class="note">Charted: {esc(why)}.</p>'
            f'<div class="charts">{charts}</div>'
        )
    prediction = drift.prediction
    if prediction is not None:
        body += (
            f"<h3>Predictions</h3>{_feature_table([prediction], drift.on_drift)}"
            f'<div class="charts">{figure(drift_chart(prediction))}</div>'
        )
    return f'<section id="{esc(anchor)}">{title}{body}</section>'


def render_drift_html(drift: DriftReport, model_name: str) -> str:
    """The drift step's own page: the same head, CSS and CSP as the evaluation report."""
    status = drift_status(drift)
    headline = drift_headline(drift)
    header = banner(
        status,
        "Data drift report",
        f"{_MARKS.get(status, '–')} {headline}",
        model_name,
        [esc(f) for f in drift_facts(drift)] if drift.compared else [esc(drift.summary())],
    )
    footer = (
        "Training batch against the reference profile of the champion · drift.on_drift "
        f"{code(drift.on_drift)}"
    )
    return page_shell(f"{model_name}: {headline}", header, [drift_section(drift)], footer)
