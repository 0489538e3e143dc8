"""Versions registered by hand: a stored report and its sha256 tag, as register_model leaves."""

from __future__ import annotations

from pathlib import Path

import mlflow
from mlflow import MlflowClient

from mlcicd.registry.versions import move_alias
from mlcicd.release.audit import AuditEvent, append_event, now_utc
from mlcicd.reporting.model import EvaluationReport
from tests.helpers.session import SESSION_DIR

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def session_experiment(client: MlflowClient, name: str) -> str:
    """An experiment whose artifacts stay in the session folder (MLflow's default is ./mlruns)."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    location = (SESSION_DIR / "mlflow-artifacts" / name).as_uri()
    return str(client.create_experiment(name, artifact_location=location))


def register_by_hand(
    client: MlflowClient,
    name: str,
    fixture: str = "evaluation_report.json",
    alias: str = "staging",
    staging: str = "staging_passed",
) -> tuple[str, EvaluationReport]:
    """A registered version carrying a stored report and its sha256 tag, like register_model.

    `staging` is the staging verdict deploy_to_staging would have recorded for it
    (staging_passed, staging_failed, or '' for none).
    """
    report = EvaluationReport.model_validate_json((FIXTURES / fixture).read_text())
    mlflow.set_tracking_uri(client.tracking_uri)
    with mlflow.start_run(experiment_id=session_experiment(client, "registered-by-hand")) as run:
        mlflow.log_text(report.model_dump_json(indent=2), "evaluation/report.json")
    try:
        client.get_registered_model(name)
    except Exception:
        client.create_registered_model(name)
    version = client.create_model_version(
        name,
        source=f"{run.info.artifact_uri}/evaluation",
        run_id=run.info.run_id,
        tags={"mlflow_run_id": run.info.run_id, "evaluation_report_sha256": report.sha256()},
    )
    if alias:
        move_alias(client, name, alias, str(version.version))
    if staging:
        append_event(
            AuditEvent(
                staging, name, str(version.version), "training pipeline", now_utc(),
                report_sha256=report.sha256(), environment="staging",
                detail="SmokeTestFailed: 3 label mismatches" if staging == "staging_failed" else "",
            )
        )  # fmt: skip
    return str(version.version), report
