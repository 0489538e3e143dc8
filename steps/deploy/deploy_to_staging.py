"""Step: serve the new version in staging, smoke-test it, and only then move alias `staging`."""

import json
from typing import Annotated

import mlflow
import pandas as pd
from mlflow import MlflowClient
from zenml import log_metadata, step

from inference.packaged_model import PackagedClassifier
from mlcicd.config import RunConfig
from mlcicd.release.deploy import stage_version
from mlcicd.release.smoke_test import SmokeResult
from mlcicd.serving.backends import serving_backend


@step(experiment_tracker=True)
def deploy_to_staging(
    model: PackagedClassifier,
    golden_data: pd.DataFrame,
    registered_model: dict[str, str],
    config: RunConfig,
) -> Annotated[dict[str, str], "staging_deployment"]:
    """A failed smoke test leaves staging as it was, is recorded, and fails the run."""
    settings = config.deployment.staging
    if not settings.enabled:
        return {"status": "skipped", "reason": "deployment.staging.enabled is false"}
    rows = golden_data.head(settings.smoke_requests)
    results: list[SmokeResult] = []
    try:
        deployment = stage_version(
            MlflowClient(),
            serving_backend(config),
            config,
            model,
            rows,
            registered_model["version"],
            results,
        )
    finally:
        if results:
            mlflow.log_text(
                json.dumps([r.to_dict() for r in results], indent=2),
                "deployment/staging_smoke_test.json",
            )
    log_metadata({"staging_deployment": deployment})
    return deployment
