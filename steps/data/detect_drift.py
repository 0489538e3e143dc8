"""Step: drift of the training batch against the champion's reference profile, before training."""

from typing import Annotated

import mlflow
import pandas as pd
from mlflow import MlflowClient
from zenml import log_metadata, step

from mlcicd.config import RunConfig
from mlcicd.errors import DataDriftDetected
from mlcicd.evaluation.drift import drift_rejection, training_batch_drift
from mlcicd.reporting.drift import DriftReport
from mlcicd.reporting.html import render_drift_html


@step(experiment_tracker=True)
def detect_drift(
    train_data: pd.DataFrame, config: RunConfig
) -> Annotated[DriftReport, "drift_report"]:
    """Stops a drifted batch before any GPU time is spent when drift.on_drift is block."""
    report = training_batch_drift(MlflowClient(), config, train_data)
    mlflow.log_text(report.model_dump_json(indent=2), "drift/report.json")
    mlflow.log_text(render_drift_html(report, config.model_name), "drift/report.html")
    mlflow.log_metric("drifted_columns", len(report.drifted_features))
    log_metadata(
        {
            "drift_compared_with": report.reference_version or "",
            "drifted_columns": [f.feature for f in report.drifted_features],
            "drift_summary": report.summary(),
        }
    )
    message = drift_rejection(report)
    if message is not None:
        raise DataDriftDetected(message)
    return report
