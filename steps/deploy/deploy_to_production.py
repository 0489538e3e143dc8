"""Step: serve an approved version in production, smoke-test it, and only then move `champion`."""

from __future__ import annotations

import json
from typing import Annotated

import mlflow
from mlflow import MlflowClient
from zenml import log_metadata, step

from mlcicd.config import RunConfig
from mlcicd.release.approvals import ApprovalError
from mlcicd.release.production import ACTIONS, deploy_version_to_production
from mlcicd.release.smoke_test import SmokeResult


def _progress(message: str) -> None:
    """Progress lines on stdout: a console release job shows this command output as progress."""
    print(f"[production] {message}", flush=True)  # noqa: T201


@step(experiment_tracker=True)
def deploy_to_production(
    config: RunConfig, version: str, actor: str, action: str = "promote", reason: str = ""
) -> Annotated[dict[str, str], "production_deployment"]:
    """Promote or roll back (`action`); the smoke test is logged to MLflow whatever the outcome."""
    if action not in ACTIONS:
        raise ApprovalError(f"unknown action '{action}'")
    results: list[SmokeResult] = []
    try:
        deployment = deploy_version_to_production(
            MlflowClient(),
            config,
            version,
            actor,
            "rollback" if action == "rollback" else "promote",
            reason,
            results,
            say=_progress,
        )
    finally:
        if results:
            mlflow.log_text(
                json.dumps([r.to_dict() for r in results], indent=2),
                "deployment/production_smoke_test.json",
            )
    log_metadata({"production_deployment": deployment})
    return deployment
