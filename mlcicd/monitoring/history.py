"""Monitoring reports kept in MLflow: one run per monitoring run, its windows as metrics.

MLflow is the one store on every stack (a local SQLite file or the team's tracking server), so
the console and `run.py monitor` read the same history wherever the monitor ran.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from mlcicd.reporting.html import render_monitoring_html
from mlcicd.reporting.markdown import render_monitoring_markdown
from mlcicd.reporting.monitoring import MonitoringReport

if TYPE_CHECKING:
    from mlflow import MlflowClient

REPORT_JSON = "monitoring/report.json"
MONITORING_TAG = "mlcicd_monitoring"


def _files(report: MonitoringReport) -> dict[str, str]:
    return {
        REPORT_JSON: report.model_dump_json(indent=2),
        "monitoring/report.html": render_monitoring_html(report),
        "monitoring/report.md": render_monitoring_markdown(report),
    }


def _tags(report: MonitoringReport) -> dict[str, str]:
    return {
        MONITORING_TAG: "true",
        "model_name": report.model_name,
        "monitoring_environment": report.environment,
        "champion_version": report.champion_version or "",
        "breaches": str(len(report.all_breaches)),
        "actions": ",".join(a.action for a in report.actions),
    }


def log_report(report: MonitoringReport) -> None:
    """Into the active MLflow run (the monitoring pipeline's step run)."""
    import mlflow

    for path, text in _files(report).items():
        mlflow.log_text(text, path)
    mlflow.set_tags(_tags(report))


def update_report(client: MlflowClient, run_id: str, report: MonitoringReport) -> None:
    """Replace the stored report of a finished run (the actions' outcomes come after the run)."""
    for path, text in _files(report).items():
        client.log_text(run_id, text, path)
    for key, value in _tags(report).items():
        client.set_tag(run_id, key, value)


def write_report_files(report: MonitoringReport, folder: Path) -> list[Path]:
    """report.json, report.html and report.md in `folder` (a CI artifact)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for path, text in _files(report).items():
        target = folder / Path(path).name
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


def recent_reports(
    client: MlflowClient, model_name: str, environment: str | None = None, limit: int = 10
) -> list[tuple[str, MonitoringReport]]:
    """(run id, report) of the newest monitoring runs, newest first; unreadable runs skipped."""
    from mlflow.exceptions import MlflowException

    experiments = [e.experiment_id for e in client.search_experiments()]
    if not experiments:
        return []
    query = f"tags.{MONITORING_TAG} = 'true' and tags.model_name = '{model_name}'"
    if environment:
        query += f" and tags.monitoring_environment = '{environment}'"
    runs = client.search_runs(
        experiments, filter_string=query, order_by=["attributes.start_time DESC"], max_results=limit
    )
    found = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in runs:
            try:
                path = client.download_artifacts(run.info.run_id, REPORT_JSON, tmp)
                report = MonitoringReport.model_validate_json(Path(path).read_text())
            except (MlflowException, OSError, ValueError):
                continue
            found.append((run.info.run_id, report))
    return found
