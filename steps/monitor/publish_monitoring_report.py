"""Step: log the monitoring report (JSON, HTML, Markdown) and per-window metrics to MLflow."""

from datetime import datetime
from typing import Annotated

import mlflow
from zenml import step
from zenml.types import HTMLString

from mlcicd.monitoring.history import log_report
from mlcicd.reporting.html import render_monitoring_html
from mlcicd.reporting.monitoring import MonitoringReport


@step(experiment_tracker=True)
def publish_monitoring_report(
    alerted_report: MonitoringReport,
) -> tuple[Annotated[HTMLString, "monitoring_report_html"], Annotated[str, "mlflow_run_id"]]:
    """The report files and each window's numbers as metrics stamped with its start.

    MLflow then plots the windows over time; the files are what every other view renders.
    """
    run = mlflow.active_run()
    run_id = run.info.run_id if run is not None else ""
    log_report(alerted_report)
    for index, window in enumerate(alerted_report.windows):
        stamp = int(datetime.fromisoformat(window.start).timestamp() * 1000)
        metrics = {
            "requests": float(window.traffic.requests),
            "error_rate": window.traffic.error_rate,
            "drifted_columns": float(len(window.drift.drifted_features)),
            "breaches": float(len(window.breaches)),
        }
        if window.traffic.p99_ms is not None:
            metrics["p99_ms"] = window.traffic.p99_ms
        if window.drift.prediction is not None and window.drift.prediction.psi is not None:
            metrics["prediction_psi"] = window.drift.prediction.psi
        if window.online is not None and window.online.roc_auc is not None:
            metrics["online_roc_auc"] = window.online.roc_auc
        for name, value in metrics.items():
            mlflow.log_metric(name, value, step=index, timestamp=stamp)
    return HTMLString(render_monitoring_html(alerted_report)), run_id
