"""Step: serve the new version in staging, smoke-test it, and only then move alias `staging`."""

import json
from typing import Annotated

import mlflow
import pandas as pd
from mlflow import MlflowClient
from zenml import log_metadata, step

from configs.config import RunConfig
from inference.packaged_model import PackagedClassifier
from stacks.seldon.backends import serving_backend
from stacks.seldon.local_backend import ModelRef
from steps.deploy.smoke_test import SmokeResult, smoke_verifier
from steps.register.registry import move_alias


@step(experiment_tracker=True)
def deploy_to_staging(
    model: PackagedClassifier,
    golden_data: pd.DataFrame,
    registered_model: dict[str, str],
    config: RunConfig,
) -> Annotated[dict[str, str], "staging_deployment"]:
    """A failed smoke test leaves staging serving what it served before and fails the run."""
    settings = config.deployment.staging
    name, version = registered_model["name"], registered_model["version"]
    if not settings.enabled:
        return {"status": "skipped", "reason": "deployment.staging.enabled is false"}
    backend = serving_backend(config)
    rows = golden_data.head(settings.smoke_requests)
    results: list[SmokeResult] = []

    verify = smoke_verifier(
        "staging",
        model,
        rows,
        name,
        version,
        settings.smoke_p95_ms,
        settings.probability_tolerance,
        config.deployment.max_rows,
        results,
    )

    try:
        state = backend.deploy(
            "staging", ModelRef(name, version, f"models:/{name}/{version}"), verify
        )
    finally:
        if results:
            mlflow.log_text(
                json.dumps([r.to_dict() for r in results], indent=2),
                "deployment/staging_smoke_test.json",
            )
    client = MlflowClient()
    move_alias(client, name, "staging", version)
    client.set_model_version_tag(name, version, "staging_smoke_test", "passed")
    client.set_model_version_tag(name, version, "staging_url", state.url)
    smoke = results[-1]
    deployment = {
        "status": "serving",
        "environment": "staging",
        "url": state.url,
        "model_version": version,
        "pid": str(state.pid),
        "smoke_p95_ms": f"{smoke.p95_ms:.2f}",
        "smoke_max_probability_difference": f"{smoke.max_probability_difference:.3g}",
    }
    log_metadata({"staging_deployment": deployment})
    return deployment
