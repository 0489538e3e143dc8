"""The Markdown and HTML renderings of the evaluation report.

The fixtures are a realistic UCI Adult report that passes every gate and a copy rejected by the
champion and latency gates. The Markdown is golden-tested; regenerate it after an intended change:

    .venv/bin/python -c "from pathlib import Path; from mlcicd.reporting.model import \
EvaluationReport; from mlcicd.reporting.markdown import render_markdown; \
r = EvaluationReport.model_validate_json(Path('tests/fixtures/evaluation_report.json').read_text()); \
Path('tests/fixtures/evaluation_report.md').write_text(render_markdown(r))"

and read the diff before committing it.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mlcicd.reporting.formatting import (
    format_metric,
    format_ms,
    format_rows_per_second,
    metric_label,
    verdict_text,
)
from mlcicd.reporting.html import render_html
from mlcicd.reporting.markdown import render_markdown
from mlcicd.reporting.model import ChampionInfo, EvaluationReport, GateResult, ModelScores

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
RESOURCE_ATTRS = {"src", "href", "srcset", "xlink:href", "action", "formaction", "poster", "data"}
RESOURCE_TAGS = {"script", "link", "img", "iframe", "object", "embed", "video", "audio", "source"}
# ROC, PR, confusion matrix, latency histogram, then one fairness chart per sensitive feature.
FIXED_CHARTS = 4


def _load(name: str) -> EvaluationReport:
    return EvaluationReport.model_validate_json((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def report() -> EvaluationReport:
    return _load("evaluation_report.json")


@pytest.fixture(scope="module")
def rejected() -> EvaluationReport:
    return _load("evaluation_report_rejected.json")


class _Collector(HTMLParser):
    """Tags with their attributes, and the text of rows marked with data-metric."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.metric_rows: dict[str, list[str]] = {}
        self._metric: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "tr":
            self._metric = dict(attrs).get("data-metric")
            if self._metric is not None:
                self.metric_rows[self._metric] = []
        elif tag == "td" and self._metric is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._metric is not None and self._cell is not None:
            self.metric_rows[self._metric].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr":
            self._metric = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _parse(document: str) -> _Collector:
    collector = _Collector()
    collector.feed(document)
    collector.close()
    return collector


def _markdown_metric_rows(markdown: str) -> list[list[str]]:
    """Cells of the metric table (the one headed `| Metric | Challenger |`)."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| Metric | Challenger |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


# --- fixtures ------------------------------------------------------------------------------------


def test_fields_added_later_keep_the_hash_of_earlier_reports(report) -> None:
    # the sha256 recorded on versions registered before `drift` existed must still verify
    assert report.drift is None
    assert report.sha256() == "1709ede5de4145f70b286deaaf4bd54eb9a0d78e6e5192585b341825aa7e48d1"
    # a champion from the team's registry is part of what was judged, so part of the hash
    assert report.champion is not None
    team = report.champion.model_copy(update={"registry": "https://mlflow.example.com"})
    assert report.model_copy(update={"champion": team}).sha256() != report.sha256()


def test_fixtures_are_canonical_reports(report, rejected) -> None:
    for name, parsed in (
        ("evaluation_report.json", report),
        ("evaluation_report_rejected.json", rejected),
    ):
        on_disk = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
        assert json.loads(parsed.canonical_json()) == on_disk
    assert report.passed and report.champion is not None and report.champion.version == "3"
    assert [g.gate for g in rejected.failed_gates] == ["champion", "latency"]
    assert rejected.champion is not None
    assert sum(r.flipped for r in report.golden_rows) == 1 and len(report.golden_rows) == 20


# --- Markdown ------------------------------------------------------------------------------------


def test_markdown_matches_golden_file(report) -> None:
    expected = (FIXTURES / "evaluation_report.md").read_text(encoding="utf-8")
    assert render_markdown(report) == expected, "regenerate the golden file (see module docstring)"


def test_rejected_markdown_names_failed_gates_and_negative_margins(rejected) -> None:
    markdown = render_markdown(rejected)
    headline = markdown.splitlines()[0]
    assert headline.startswith("### ❌ ")
    assert headline.endswith("rejected by: champion, latency")
    assert "passed every gate" not in markdown
    assert "| ❌ failed | **champion** |" in markdown
    assert "| ❌ failed | **latency** |" in markdown
    failing = [line for line in markdown.splitlines() if line.endswith("| ❌ |")]
    margins = [line.strip("|").split("|")[-2].strip() for line in failing]
    assert len(margins) == 4
    assert all(m.startswith("-") for m in margins), margins
    assert "-12.47" in margins  # p95 latency: 62.47 ms against a 50 ms bar
    assert "-0.0084" in margins  # roc_auc fell by 0.0084 versus the champion


def test_markdown_without_champion_says_so(report) -> None:
    lonely = report.model_copy(deep=True)
    lonely.champion = None
    for gate in lonely.gates:
        if gate.gate in ("champion", "golden_rows"):
            gate.status, gate.checks = "no_champion", []
    markdown = render_markdown(lonely)
    assert "| ➖ no champion yet | **champion** |" in markdown
    assert "| ROC AUC | 0.9090 | — | — |" in markdown
    assert markdown.splitlines()[0].endswith("passed every gate")


# --- HTML ----------------------------------------------------------------------------------------


def test_html_shows_headline_numbers_as_formatted(report) -> None:
    document = render_html(report)
    assert "0.9090" in document
    for value in report.challenger.metrics.values():
        assert format_metric(value) in document
    assert report.latency is not None
    for ms in (report.latency.p50_ms, report.latency.p95_ms, report.latency.p99_ms):
        assert f"{format_ms(ms)} ms" in document
    assert format_rows_per_second(report.latency.batch_rows_per_second) == "48,214"
    assert "48,214" in document
    assert verdict_text(report) in document


def test_html_has_one_svg_per_chart(report, rejected) -> None:
    for current in (report, rejected):
        document = render_html(current)
        expected = FIXED_CHARTS + len(current.fairness)
        assert document.count("<svg") == document.count("</svg>") == expected
        labels = {attrs.get("aria-label") for tag, attrs in _parse(document).tags if tag == "svg"}
        assert {"ROC curve", "Precision-recall curve", "Confusion matrix"} <= labels
        assert {f"{f.feature}: selection rate by group" for f in current.fairness} <= labels
        assert "Single-row latency (200 requests)" in labels


def test_html_is_self_contained(report) -> None:
    document = render_html(report)
    parsed = _parse(document)
    assert not [tag for tag, _ in parsed.tags if tag in RESOURCE_TAGS]
    for tag, attrs in parsed.tags:
        for name, value in attrs.items():
            if name in RESOURCE_ATTRS:
                assert "//" not in (value or ""), f"<{tag} {name}={value!r}> loads a resource"
    assert "http://" not in document and "https://" not in document
    assert "url(" not in document and "@import" not in document
    assert "<script" not in document.lower()
    assert "Content-Security-Policy" in document and "default-src 'none'" in document


def test_html_escapes_report_strings(report) -> None:
    evil = report.model_copy(deep=True)
    evil.model_name = "<script>alert(1)</script>"
    evil.gates[0].summary = '"><img src=x onerror=alert(2)>'
    evil.fairness[0].groups[0].group = "<b>bold</b>"
    evil.lineage["git_sha"] = "</code><script>alert(3)</script>"
    document = render_html(evil)
    assert "<script" not in document.lower()
    assert "<img" not in document and "<b>" not in document
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in document
    assert "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in document
    markdown = render_markdown(evil)
    assert "&lt;img src=x onerror=alert(2)&gt;" in markdown  # outside code spans, HTML is escaped
    assert "<img" not in markdown


def test_rendering_is_deterministic(report, rejected) -> None:
    for current in (report, rejected):
        again = EvaluationReport.model_validate_json(current.model_dump_json())
        assert render_html(current) == render_html(current) == render_html(again)
        assert render_markdown(current) == render_markdown(again)


def test_markdown_and_html_show_the_same_metric_strings(report, rejected) -> None:
    for current in (report, rejected):
        markdown_rows = _markdown_metric_rows(render_markdown(current))
        html_rows = _parse(render_html(current)).metric_rows
        assert list(html_rows) == list(current.challenger.metrics)
        assert len(markdown_rows) == len(html_rows)
        for (name, html_cells), md_cells in zip(html_rows.items(), markdown_rows, strict=True):
            assert md_cells[0].startswith(metric_label(name))
            assert re.sub(r"\s+", " ", html_cells[0]).startswith(metric_label(name))
            assert md_cells[1:] == html_cells[1:], name
            assert md_cells[1] == format_metric(current.challenger.metrics[name])


def test_sparse_report_renders_everywhere() -> None:
    """A first run: no champion, nothing measured, a data gate failure, a champion error."""
    sparse = EvaluationReport(
        model_name="adult-income-classifier",
        environment="local",
        model_type="baseline",
        run_name="run-1",
        created_at="2025-01-01T00:00:00+00:00",
        threshold=0.5,
        positive_class=">50K",
        golden_rows_evaluated=0,
        challenger=ModelScores(metrics={"roc_auc": 0.5, "log_loss": float("nan")}),
        data_validation={
            "suite": "adult_schema",
            "success": False,
            "batches": [
                {
                    "batch": "golden",
                    "success": False,
                    "evaluated": 43,
                    "successful": 42,
                    "rows": 10,
                    "failures": [
                        {
                            "batch": "golden",
                            "expectation": "expect_column_values_to_be_in_set",
                            "column": "sex",
                            "observed": "1 unexpected value(s): ['Unknown']",
                        }
                    ],
                }
            ],
        },
        gates=[GateResult(gate="champion", status="no_champion", summary="")],
    )
    markdown = render_markdown(sparse)
    assert "➖ no champion yet" in markdown
    assert "expect_column_values_to_be_in_set on column 'sex'" in markdown
    assert "| Log loss (lower is better) | — | — | — |" in markdown
    document = render_html(sparse)
    assert document.count("<svg") == 2  # ROC and PR frames, each saying no curve was recorded
    assert "no curve recorded" in document and "Latency was not measured." in document
    errored = sparse.model_copy(
        update={"champion": ChampionInfo(version="7", scores=ModelScores(metrics={}), error="boom")}
    )
    assert "Champion v7 could not be scored: boom" in render_markdown(errored)
    assert "Champion v7 could not be scored: boom" in render_html(errored)
