"""The offline HTML renderings: the evaluation report, drift findings, the monitoring report."""

from mlcicd.reporting.html.drift import drift_section, render_drift_html
from mlcicd.reporting.html.monitoring import render_monitoring_html
from mlcicd.reporting.html.page import render_html

__all__ = ["drift_section", "render_drift_html", "render_html", "render_monitoring_html"]
