"""The small SVG plotting kit behind the report's charts: scales, ticks, frames, legends.

The report must open offline and byte-compare across runs, so charts are drawn as inline SVG
strings by hand rather than by a plotting library; every coordinate goes through `num` so the
output never depends on float noise.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence

CHALLENGER_COLOR = "#0969da"
CHAMPION_COLOR = "#bc4c00"
GRID_COLOR = "#e5e7eb"
AXIS_COLOR = "#6b7280"
TEXT_COLOR = "#1f2328"
PERCENTILE_COLORS = {"p50": "#1a7f37", "p95": "#bf8700", "p99": "#cf222e"}

Legend = Sequence[tuple[str, str, str]]
"""Legend entries: (label, color, swatch style); see `swatch` for the styles."""


def esc(value: object) -> str:
    """Every report-derived string goes through here, in text and in attributes alike."""
    return html.escape(str(value), quote=True)


def num(value: float) -> str:
    """SVG coordinate with fixed precision, so output bytes do not depend on float noise."""
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def nice_step(span: float, target: int) -> float:
    """Tick step of 1, 2, 2.5 or 5 times a power of ten, giving about `target` ticks."""
    if span <= 0:
        return 1.0
    raw = span / max(target, 1)
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def ticks(low: float, high: float, target: int = 5) -> list[float]:
    """Multiples of a nice step inside [low, high]."""
    step = nice_step(high - low, target)
    first, last = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
    return [round(i * step, 10) for i in range(first, last + 1)]


def tick_label(value: float, step: float) -> str:
    """As many decimals as the tick step needs, and no more."""
    decimals = 0
    while decimals < 6 and abs(step * 10**decimals - round(step * 10**decimals)) > 1e-9:
        decimals += 1
    return f"{value:.{decimals}f}"


class Plot:
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
        """Pixel column of a data x value; an empty range counts as width 1, never divides by 0."""
        span = (self.x1 - self.x0) or 1.0
        return self.left + (value - self.x0) / span * (self.width - self.left - self.right)

    def y(self, value: float) -> float:
        """Pixel row of a data y value, growing upwards as in a chart."""
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
            f'<text x="{num(self.width / 2)}" y="22" text-anchor="middle" font-size="15" '
            f'font-weight="600" fill="{TEXT_COLOR}">{esc(title)}</text>'
        ]
        x_step = x_ticks[1] - x_ticks[0] if len(x_ticks) > 1 else 1.0
        y_step = y_ticks[1] - y_ticks[0] if len(y_ticks) > 1 else 1.0
        bottom, top = self.y(self.y0), self.y(self.y1)
        left, right = self.x(self.x0), self.x(self.x1)
        for t in x_ticks:
            px = num(self.x(t))
            label = f"{t:{x_fmt}}" if x_fmt else tick_label(t, x_step)
            parts.append(
                f'<line x1="{px}" y1="{num(top)}" x2="{px}" y2="{num(bottom)}" '
                f'stroke="{GRID_COLOR}" stroke-width="1"/>'
                f'<text x="{px}" y="{num(bottom + 16)}" text-anchor="middle" font-size="11" '
                f'fill="{AXIS_COLOR}">{esc(label)}</text>'
            )
        for t in y_ticks:
            py = num(self.y(t))
            label = f"{t:{y_fmt}}" if y_fmt else tick_label(t, y_step)
            parts.append(
                f'<line x1="{num(left)}" y1="{py}" x2="{num(right)}" y2="{py}" '
                f'stroke="{GRID_COLOR}" stroke-width="1"/>'
                f'<text x="{num(left - 6)}" y="{num(self.y(t) + 4)}" text-anchor="end" '
                f'font-size="11" fill="{AXIS_COLOR}">{esc(label)}</text>'
            )
        parts.append(
            f'<rect x="{num(left)}" y="{num(top)}" width="{num(right - left)}" '
            f'height="{num(bottom - top)}" fill="none" stroke="{AXIS_COLOR}" stroke-width="1"/>'
            f'<text x="{num((left + right) / 2)}" y="{num(bottom + 36)}" text-anchor="middle" '
            f'font-size="12" fill="{TEXT_COLOR}">{esc(x_label)}</text>'
            f'<text x="16" y="{num((top + bottom) / 2)}" text-anchor="middle" font-size="12" '
            f'fill="{TEXT_COLOR}" transform="rotate(-90 16 {num((top + bottom) / 2)})">'
            f"{esc(y_label)}</text>"
        )
        return parts

    def polyline(self, points: Sequence[tuple[float, float]], color: str, dash: str = "") -> str:
        """A data series as one line; `dash` is an SVG dash pattern, empty for solid."""
        coords = " ".join(f"{num(self.x(px))},{num(self.y(py))}" for px, py in points)
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        return (
            f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2.2" '
            f'stroke-linejoin="round"{dashed}/>'
        )


def swatch(color: str, style: str, x: float, cy: float) -> str:
    """Legend key 18 px wide: a line (solid or dashed), a filled box, a hollow box or a dot."""
    if style == "box":
        return f'<rect x="{num(x)}" y="{num(cy - 5)}" width="18" height="10" fill="{color}"/>'
    if style == "small":
        return (
            f'<rect x="{num(x)}" y="{num(cy - 5)}" width="18" height="10" fill="{color}" '
            f'fill-opacity="0.3" stroke="{color}" stroke-dasharray="3 2"/>'
        )
    if style == "dot":
        return f'<circle cx="{num(x + 9)}" cy="{num(cy)}" r="4.5" fill="{color}"/>'
    dashed = f' stroke-dasharray="{style}"' if style else ""
    return (
        f'<line x1="{num(x)}" y1="{num(cy)}" x2="{num(x + 18)}" y2="{num(cy)}" '
        f'stroke="{color}" stroke-width="2.5"{dashed}/>'
    )


def _legend_label(x: float, cy: float, label: str) -> str:
    return (
        f'<text x="{num(x)}" y="{num(cy + 4)}" font-size="11.5" fill="{TEXT_COLOR}">'
        f"{esc(label)}</text>"
    )


def legend_box(entries: Legend, x: float, y: float, width: float = 210) -> list[str]:
    """Boxed, stacked legend; each entry is (label, color, swatch style)."""
    height = 10 + 18 * len(entries)
    parts = [
        f'<rect x="{num(x)}" y="{num(y)}" width="{num(width)}" height="{num(height)}" rx="4" '
        'fill="#ffffff" fill-opacity="0.92" stroke="#d0d7de"/>'
    ]
    for i, (label, color, style) in enumerate(entries):
        cy = y + 14 + 18 * i
        parts += [swatch(color, style, x + 10, cy), _legend_label(x + 36, cy, label)]
    return parts


def legend_row(entries: Legend, x: float, cy: float) -> list[str]:
    """Unboxed legend on one line, for charts whose plot area has no free corner."""
    parts = []
    for label, color, style in entries:
        parts += [swatch(color, style, x, cy), _legend_label(x + 24, cy, label)]
        x += 24 + 6.6 * len(label) + 18
    return parts


def svg_chart(width: int, height: int, label: str, parts: Iterable[str]) -> str:
    """Inline SVG element; no xmlns needed (or wanted: it would be a URL) inside HTML5."""
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{esc(label)}"><title>{esc(label)}</title>{"".join(parts)}</svg>'
    )
