"""The monitoring report in HTML: verdict, breaches, actions, charts over windows, each window.

Same page shell, CSS and CSP as the evaluation report; a pure function of the report object.
The newest windows come first and carry their drift section; older ones are rows of a table, so
a report over days of hourly windows stays readable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from mlcicd.reporting.html.drift import drift_section
from mlcicd.reporting.html.page import (
    banner,
    code,
    escaped_cells,
    figure,
    key_value_table,
    page_shell,
    render_table,
)
from mlcicd.reporting.html.svg import (
    AXIS_COLOR,
    CHALLENGER_COLOR,
    CHAMPION_COLOR,
    Plot,
    esc,
    legend_row,
    num,
    svg_chart,
    ticks,
)
from mlcicd.reporting.monitoring import MonitoringReport, MonitoringWindow
from mlcicd.reporting.monitoring_formatting import (
    ACTION_COLUMNS,
    BREACH_COLUMNS,
    WINDOW_COLUMNS,
    action_cells,
    breach_cells,
    breach_rows,
    highest_psi,
    monitoring_facts,
    monitoring_verdict,
    newest_first,
    online_rows,
    traffic_rows,
    window_cells,
    window_summary,
    window_time,
)

EXPANDED_WINDOWS = 6


def series_chart(
    title: str,
    y_label: str,
    windows: Sequence[MonitoringWindow],
    value: Callable[[MonitoringWindow], float | None],
    reference: float | None = None,
    reference_label: str = "",
) -> str:
    """One quantity over the windows (oldest left), with an optional dashed reference line."""
    points = [(float(i), value(w)) for i, w in enumerate(windows)]
    known = [(x, y) for x, y in points if y is not None and math.isfinite(y)]
    peak = max([y for _, y in known] + ([reference] if reference is not None else []) + [0.0])
    y_ticks = ticks(0.0, peak * 1.15 if peak > 0 else 1.0, 5)
    x_high = float(max(len(windows) - 1, 1))
    plot = Plot(560, 300, (0.0, x_high), (0.0, y_ticks[-1]), margin=(40, 18, 70, 64))
    step = max(1, math.ceil(len(windows) / 6))
    x_ticks = [float(i) for i in range(0, len(windows), step)]
    parts = plot.frame(title, "Window start (UTC)", y_label, [], y_ticks)
    for x in x_ticks:
        parts.append(
            f'<text x="{num(plot.x(x))}" y="{num(plot.y(0) + 16)}" text-anchor="middle" '
            f'font-size="10.5" fill="{AXIS_COLOR}">'
            f"{esc(window_time(windows[int(x)].start, True))}</text>"
        )
    if len(known) > 1:
        parts.append(plot.polyline(known, CHALLENGER_COLOR))
    for x, y in known:
        parts.append(
            f'<circle cx="{num(plot.x(x))}" cy="{num(plot.y(y))}" r="3.5" '
            f'fill="{CHALLENGER_COLOR}"/>'
        )
    legend = [(y_label, CHALLENGER_COLOR, "")]
    if reference is not None:
        parts.append(plot.polyline([(0.0, reference), (x_high, reference)], CHAMPION_COLOR, "6 3"))
        legend.append((reference_label, CHAMPION_COLOR, "6 3"))
    parts += legend_row(legend, 16, plot.height - 14)
    return svg_chart(plot.width, plot.height, title, parts)


def _max_psi(window: MonitoringWindow) -> float | None:
    top = highest_psi(window.drift)
    return top.psi if top is not None else None


def _prediction_psi(window: MonitoringWindow) -> float | None:
    prediction = window.drift.prediction
    return prediction.psi if prediction is not None else None


def _charts(report: MonitoringReport) -> str:
    windows = sorted(report.windows, key=lambda w: w.start)
    if not windows:
        return ""
    baseline = report.latency_baseline_ms
    charts = [
        series_chart("Requests per window", "requests", windows, lambda w: w.traffic.requests),
        series_chart("Server error rate", "5xx share", windows, lambda w: w.traffic.error_rate),
        series_chart(
            "p99 latency",
            "p99 ms",
            windows,
            lambda w: w.traffic.p99_ms,
            baseline,
            f"smoke-tested p95 {baseline:.1f} ms" if baseline else "",
        ),
        series_chart("Highest input PSI", "max PSI", windows, _max_psi),
        series_chart("Prediction PSI", "PSI", windows, _prediction_psi),
    ]
    body = "".join(figure(c) for c in charts)
    return f'<section id="trends"><h2>Over time</h2><div class="charts">{body}</div></section>'


def _breaches(report: MonitoringReport) -> str:
    rows = breach_rows(report)
    if not rows:
        return '<section id="breaches"><h2>Breaches</h2><p>No threshold was crossed.</p></section>'
    cells = []
    for window, breach in rows:
        values = list(escaped_cells(breach_cells(window, breach)))
        values[5] = code(breach.config_key)
        cells.append(tuple(values))
    table = render_table(BREACH_COLUMNS, cells, ["fail"] * len(cells))
    return f'<section id="breaches"><h2>Breaches</h2>{table}</section>'


def _actions(report: MonitoringReport) -> str:
    if not report.actions:
        return ""
    table = render_table(ACTION_COLUMNS, [escaped_cells(action_cells(a)) for a in report.actions])
    return f'<section id="actions"><h2>Actions</h2>{table}</section>'


def _window_block(window: MonitoringWindow, index: int) -> str:
    traffic = key_value_table(traffic_rows(window), as_code=False)
    online = (
        f"<h3>Online metrics</h3>{key_value_table(online_rows(window.online), as_code=False)}"
        if window.online is not None
        else ""
    )
    drift = drift_section(window.drift, heading="Drift", anchor=f"window-{index}-drift")
    opened = " open" if window.breaches else ""
    return (
        f"<details{opened}><summary>{esc(window_summary(window))}</summary>"
        f"<h3>Traffic</h3>{traffic}{online}{drift}</details>"
    )


def _windows(report: MonitoringReport) -> str:
    windows = newest_first(report)
    if not windows:
        note = esc(report.note or "no request in the time range")
        return f'<section id="windows"><h2>Windows</h2><p class="note">{note}</p></section>'
    table = render_table(WINDOW_COLUMNS, [escaped_cells(window_cells(w)) for w in windows])
    blocks = "".join(_window_block(w, i) for i, w in enumerate(windows[:EXPANDED_WINDOWS]))
    older = len(windows) - EXPANDED_WINDOWS
    more = (
        f'<p class="note">{older} older window(s): rows of the table above.</p>'
        if older > 0
        else ""
    )
    return f'<section id="windows"><h2>Windows</h2>{table}{blocks}{more}</section>'


def render_monitoring_html(report: MonitoringReport) -> str:
    """The offline, self-contained HTML form of a monitoring report."""
    verdict = monitoring_verdict(report)
    status = "passed" if report.healthy else "failed"
    header = banner(
        status,
        f"Monitoring report · {report.environment}",
        verdict,
        report.model_name,
        monitoring_facts(report, code, esc),
    )
    note = f'<p class="note">{esc(report.note)}</p>' if report.note else ""
    sections = [
        note,
        _breaches(report),
        _actions(report),
        _charts(report),
        _windows(report),
    ]
    sources = ", ".join(code(s) for s in report.sources) or "none"
    footer = f"Report created {esc(report.created_at)} · sources {sources}"
    return page_shell(f"{report.model_name}: {verdict}", header, sections, footer)
