"""Promotion pipeline: deploy an approved version to production, smoke-test it, move `champion`.

`python run.py promote --version N` and the console's Approve button both call run_release;
rollback (pipelines/rollback.py) is the same path to an earlier approved version.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from zenml import pipeline

from configs.config import RunConfig
from pipelines.failure_reporting import record_failure
from steps.deploy.deploy_to_production import deploy_to_production


@pipeline(enable_cache=False, on_failure=record_failure)
def promotion_pipeline(config: RunConfig, version: str, actor: str) -> None:
    """One step: the approval is re-checked inside it, right before the deployment."""
    deploy_to_production(config=config, version=version, actor=actor, action="promote")


def _run(pipeline_fn: Any, prefix: str, stack: str, **kwargs: Any) -> dict[str, str]:
    """Run a one-step release pipeline; raise its typed failure (gate, input) like training does.

    On a Kubernetes stack it gets the same image and pod settings as training (no GPU).
    """
    from zenml.client import Client

    from pipelines.failure_reporting import quiet_expected_failures
    from pipelines.launch import stack_run_options, typed_failure

    quiet_expected_failures()
    run_name = f"{prefix}-{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
    options = stack_run_options(pipeline_fn, kwargs, kwargs["config"], stack, strict=False)
    try:
        pipeline_fn.with_options(run_name=run_name, **options)(**kwargs)
    except Exception as exc:
        failure = typed_failure(exc, run_name)
        if failure is exc:
            raise
        raise failure from None
    run = Client().get_pipeline_run(run_name)
    result = run.steps["deploy_to_production"].outputs["production_deployment"][0].load()
    return {**result, "run_name": run.name}


def run_release(
    config: RunConfig,
    stack: str,
    version: str,
    actor: str,
    action: str = "promote",
    reason: str = "",
) -> dict[str, str]:
    """Check, then run the promotion or rollback pipeline; one release per model at a time."""
    from mlflow import MlflowClient

    from pipelines.launch import activate_stack, active_tracking_uri
    from pipelines.rollback import rollback_pipeline
    from steps.deploy.approvals import ApprovalError, exclusive, require_approved

    if not (actor or "").strip():
        raise ApprovalError("a release needs the name of who starts it (--actor)")
    activate_stack(stack)
    client = MlflowClient(tracking_uri=active_tracking_uri())
    require_approved(client, config.model_name, version)  # refuse before any ZenML work
    with exclusive(f"release-{config.model_name}", blocking=False) as acquired:
        if not acquired:
            raise ApprovalError(
                f"another promotion or rollback of '{config.model_name}' is running; "
                "wait for it to finish"
            )
        if action == "rollback":
            return _run(
                rollback_pipeline,
                "rollback",
                stack,
                config=config,
                version=str(version),
                actor=actor,
                reason=reason,
            )
        return _run(
            promotion_pipeline,
            "promotion",
            stack,
            config=config,
            version=str(version),
            actor=actor,
        )
