"""Render the one evaluation report in a named format (CLI `report --format`)."""

from __future__ import annotations

from mlcicd.errors import PipelineInputError
from mlcicd.reporting.model import EvaluationReport

FORMATS = ("markdown", "html", "json")


def render(report: EvaluationReport, fmt: str) -> str:
    """The report in one of FORMATS."""
    if fmt == "markdown":
        from mlcicd.reporting.markdown import render_markdown

        return render_markdown(report)
    if fmt == "html":
        from mlcicd.reporting.html import render_html

        return render_html(report)
    if fmt == "json":
        return report.model_dump_json(indent=2)
    raise PipelineInputError(f"unknown format '{fmt}'; choose one of {', '.join(FORMATS)}")
