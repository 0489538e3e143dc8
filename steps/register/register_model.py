"""Step: log the packaged model and register it as the new `challenger`, with full lineage."""

from dataclasses import asdict
from typing import Annotated, Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from zenml import get_step_context, log_metadata, step

from configs.config import RunConfig
from inference.packaged_model import PackagedClassifier
from steps.register.lineage import library_versions
from steps.register.registry import (
    RegisteredVersion,
    log_packaged_model,
    move_alias,
    register_version,
)


@step(experiment_tracker=True)
def register_model(
    model: PackagedClassifier,
    golden_data: pd.DataFrame,
    test_metrics: dict[str, float],
    training_summary: dict[str, Any],
    data_fingerprint: str,
    config: RunConfig,
    launch_lineage: dict[str, str],
) -> Annotated[dict[str, str], "registered_model"]:
    """Runs last, so a failure anywhere before it leaves the registry untouched."""
    context = get_step_context()
    run = context.pipeline_run
    stack_name = run.stack.name if run.stack is not None else "unknown"
    tags = {
        **launch_lineage,
        "data_fingerprint": data_fingerprint,
        "config_fingerprint": config.fingerprint(),
        "environment": config.environment,
        "zenml_run_id": str(run.id),
        "zenml_run_name": run.name,
        "stack": stack_name,
        "model_type": config.model.type,
        "training_device": str(training_summary.get("device", "unknown")),
        "training_device_name": str(training_summary.get("device_name", "unknown")),
        **library_versions(),
    }
    active = mlflow.active_run()
    if active is not None:
        tags["mlflow_run_id"] = active.info.run_id
    model_uri = log_packaged_model(model, golden_data)
    metrics_line = ", ".join(f"{k}={v:.4f}" for k, v in sorted(test_metrics.items()))
    client = MlflowClient()
    version = register_version(
        client, config.model_name, model_uri, tags, f"golden-set metrics: {metrics_line}"
    )
    move_alias(client, config.model_name, "challenger", version)
    registered = RegisteredVersion(
        name=config.model_name,
        version=version,
        model_uri=f"models:/{config.model_name}/{version}",
        run_id=tags.get("mlflow_run_id"),
        alias="challenger",
    )
    result = {k: str(v) for k, v in asdict(registered).items()}
    result["tracking_uri"] = mlflow.get_tracking_uri()
    log_metadata({"registered_model": result})
    return result
