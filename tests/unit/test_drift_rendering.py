"""Drift findings and monitoring reports rendered: built by the real drift code, not typed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlcicd.config import DataSchema, DriftConfig
from mlcicd.data.drift import batch_drift
from mlcicd.data.profile import build_profile
from mlcicd.reporting.drift import DriftReport
from mlcicd.reporting.html import render_drift_html, render_html, render_monitoring_html
from mlcicd.reporting.markdown import render_markdown, render_monitoring_markdown
from mlcicd.reporting.model import EvaluationReport
from mlcicd.reporting.monitoring import (
    ActionRecord,
    Breach,
    MonitoringReport,
    MonitoringWindow,
    WindowTraffic,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SCHEMA = DataSchema.model_validate(
    {
        "name": "tiny",
        "columns": [
            {"name": "<b>size</b>", "dtype": "float"},
            {"name": "colour", "dtype": "categorical", "values": ["red", "green", "blue"]},
            {"name": "weight", "dtype": "float"},
        ],
    }
)


def _frame(
    n: int, seed: int, shift: float = 0.0, colours: tuple[float, ...] = (0.5, 0.3, 0.2)
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "<b>size</b>": rng.normal(10 + shift, 2, n),
            "colour": rng.choice(["red", "green", "blue"], n, p=list(colours)),
            "weight": rng.normal(70, 5, n),
        }
    )


@pytest.fixture(scope="module")
def drifted() -> DriftReport:
    profile = build_profile(
        _frame(5000, 0), SCHEMA, model_name="m", label="colour", data_fingerprint="f"
    )
    return batch_drift(profile, [_frame(2000, 1, 3.0, (0.1, 0.3, 0.6))], DriftConfig(), "4")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


def _tags(html: str) -> list[str]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def test_the_drift_page_names_the_drifted_columns_with_a_chart_each(drifted: DriftReport) -> None:
    assert {f.feature for f in drifted.drifted_features} == {"<b>size</b>", "colour"}
    html = render_drift_html(drifted, "m")
    assert html == render_drift_html(drifted, "m")  # a pure function: byte for byte
    assert "<b>size</b>" not in html and "&lt;b&gt;size&lt;/b&gt;" in html
    tags = _tags(html)
    assert "script" not in tags and tags.count("svg") == 2
    assert "2 of 3 column(s) drifted" in html and "reference v4" in html


def test_no_drift_charts_the_highest_psi_columns_and_says_why() -> None:
    profile = build_profile(
        _frame(5000, 0), SCHEMA, model_name="m", label="colour", data_fingerprint="f"
    )
    calm = batch_drift(profile, [_frame(3000, 2)], DriftConfig(), "4")
    html = render_drift_html(calm, "m")
    assert not calm.drifted_features and "no column drifted" in html
    assert _tags(html).count("svg") == 3
    empty = render_drift_html(DriftReport(note="no champion yet: nothing to compare"), "m")
    assert "no champion yet" in empty and "svg" not in _tags(empty)


def test_the_evaluation_report_gets_a_drift_section_only_when_it_has_drift(
    drifted: DriftReport,
) -> None:
    report = EvaluationReport.model_validate_json((FIXTURES / "evaluation_report.json").read_text())
    assert 'id="drift"' not in render_html(report)
    assert render_markdown(report) == (FIXTURES / "evaluation_report.md").read_text()
    with_drift = report.model_copy(update={"drift": drifted})
    html, markdown = render_html(with_drift), render_markdown(with_drift)
    assert 'id="drift"' in html and "#### Data drift" in markdown
    section = markdown.split("#### Data drift", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:4]
    assert ["drifted: " in row for row in rows] == [True, True, False]  # drifted columns first
    assert rows[2].startswith("| weight |")


def _monitoring(drifted: DriftReport, windows: int) -> MonitoringReport:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    made = []
    for i in range(windows):
        at = start + timedelta(hours=i)
        breaches = (
            [
                Breach(
                    kind="drift",
                    metric="feature:colour",
                    value=0.9,
                    threshold=None,
                    config_key="drift.categorical",
                    message="input 'colour' drifted",
                )
            ]
            if i == windows - 1
            else []
        )
        made.append(
            MonitoringWindow(
                start=at.isoformat(),
                end=(at + timedelta(hours=1)).isoformat(),
                model_versions=["4"],
                traffic=WindowTraffic(requests=100 + i, p99_ms=12.0 + i),
                drift=drifted if i == windows - 1 else DriftReport(note="quiet"),
                breaches=breaches,
            )
        )
    return MonitoringReport(
        model_name="m", environment="production", champion_version="4",
        created_at=start.isoformat(), since=start.isoformat(),
        until=(start + timedelta(hours=windows)).isoformat(), window_minutes=60, windows=made,
        latency_baseline_ms=10.0,
        actions=[ActionRecord(breach_kinds=["drift"], action="retrain", outcome="registered v5")],
    )  # fmt: skip


def test_the_monitoring_page_shows_breaches_actions_trends_and_recent_windows(
    drifted: DriftReport,
) -> None:
    report = _monitoring(drifted, 9)
    html = render_monitoring_html(report)
    assert html == render_monitoring_html(report)
    tags = _tags(html)
    assert "script" not in tags
    assert tags.count("svg") == 5 + 2  # five trends, the newest window's two drifted columns
    assert tags.count("details") == 6  # the newest six windows; older ones are table rows
    assert "input &#x27;colour&#x27; drifted" in html or "input 'colour' drifted" in html
    assert "registered v5" in html and "drift.categorical" in html
    markdown = render_monitoring_markdown(report)
    assert markdown.startswith("### ❌ Monitoring m: 1 breach")
    assert "| retrain | registered v5 |" in markdown and markdown.count("| 2026-12-01") >= 10


def test_a_monitoring_report_without_windows_says_so_and_draws_nothing() -> None:
    empty = MonitoringReport(
        model_name="m", environment="production", created_at="2026-12-01T00:00:00+00:00",
        since="2026-12-01T00:00:00+00:00", until="2026-12-01T01:00:00+00:00", window_minutes=60,
        note="no request log found at /x/requests-v*.jsonl",
    )  # fmt: skip
    html = render_monitoring_html(empty)
    assert "svg" not in _tags(html) and "no request log found" in html
    assert "no traffic to judge" in render_monitoring_markdown(empty)
