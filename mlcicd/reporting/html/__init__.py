"""The offline HTML rendering of the evaluation report."""

from mlcicd.reporting.html.page import render_html

__all__ = ["render_html"]
