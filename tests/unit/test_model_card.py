"""The model card: measured parts from the report, declared parts from config, nothing invented."""

from __future__ import annotations

from pathlib import Path

from mlcicd.config import ModelCardConfig
from mlcicd.reporting.model import EvaluationReport
from mlcicd.reporting.model_card import NOT_DECLARED, model_card_html, model_card_markdown

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "evaluation_report.json"


def _report() -> EvaluationReport:
    return EvaluationReport.model_validate_json(FIXTURE.read_text())


def test_the_card_carries_the_reports_numbers_and_the_declared_purpose() -> None:
    report = _report()
    card = ModelCardConfig(
        intended_use="Rank census records by income band for research",
        out_of_scope_uses=["credit or hiring decisions about a person"],
        limitations=["trained on 1994 US census data"],
        owners=["ml-platform@example.com"],
    )
    text = model_card_markdown(report, card, "7")

    assert text.startswith(f"# Model card: {report.model_name} version 7")
    assert "Rank census records by income band for research" in text
    assert "- credit or hiring decisions about a person" in text
    assert "- trained on 1994 US census data" in text
    for name, value in report.challenger.metrics.items():
        assert f"{value:.4f}" in text, name
    for fairness in report.fairness:
        assert f"{fairness.feature}: demographic parity difference" in text
        assert f"{fairness.demographic_parity_difference:.3f}" in text
    for gate in report.gates:
        assert f"{gate.gate}: {gate.status}" in text
    assert NOT_DECLARED in text  # intended users and ethical considerations were not given


def test_an_empty_declaration_says_so_and_the_html_escapes_what_it_is_given() -> None:
    report = _report()
    card = ModelCardConfig(limitations=["<script>alert(1)</script>"])
    page = model_card_html(report, card, "3")

    assert page.startswith("<!DOCTYPE html>")
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count(NOT_DECLARED) >= 3  # intended use, users, owners, ...
