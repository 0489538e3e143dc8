"""The evaluation report stored with a registered version, checked against its recorded hash."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlcicd.errors import PipelineInputError
from mlcicd.reporting.model import EvaluationReport

if TYPE_CHECKING:
    from mlflow import MlflowClient

REPORT_ARTIFACT = "evaluation/report.json"
MODEL_CARD_ARTIFACT = "model_card/model_card.md"  # and model_card.html beside it


def stored_report(client: MlflowClient, model_name: str, version: str) -> EvaluationReport:
    """The report logged with a version, verified against the sha256 recorded on it."""
    import tempfile

    from mlflow.exceptions import MlflowException

    try:
        mv = client.get_model_version(model_name, version)
    except MlflowException:
        raise PipelineInputError(f"model '{model_name}' has no version {version}") from None
    run_id = mv.tags.get("mlflow_run_id") or mv.run_id
    if not run_id:
        raise PipelineInputError(f"version {version} of '{model_name}' records no MLflow run")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = client.download_artifacts(run_id, REPORT_ARTIFACT, tmp)
        except MlflowException:
            raise PipelineInputError(
                f"version {version} of '{model_name}' has no {REPORT_ARTIFACT}"
            ) from None
        report = EvaluationReport.model_validate_json(Path(path).read_text())
    expected = mv.tags.get("evaluation_report_sha256")
    if expected and report.sha256() != expected:
        raise PipelineInputError(
            f"the stored report of version {version} does not match its recorded sha256"
        )
    return report
