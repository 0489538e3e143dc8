"""Start a promotion or rollback: refuse early, take the release lock, run the one-step pipeline.

`python run.py promote|rollback` and the console's release jobs both call run_release.
"""

from __future__ import annotations

from mlcicd.config import RunConfig
from mlcicd.release.approvals import ApprovalError, require_approved
from mlcicd.release.locks import exclusive, lock_holder
from mlcicd.runner.pipeline_run import new_run_name, run_pipeline, step_output
from mlcicd.stack.active import activate_stack, active_tracking_uri


def run_release(
    config: RunConfig,
    stack: str,
    version: str,
    actor: str,
    action: str = "promote",
    reason: str = "",
) -> dict[str, str]:
    """Check, then run the promotion or rollback pipeline; one release per model at a time.

    On a Kubernetes stack it gets the same image and pod settings as training (no GPU).
    """
    from mlflow import MlflowClient

    from pipelines.promotion import promotion_pipeline
    from pipelines.rollback import rollback_pipeline

    if not (actor or "").strip():
        raise ApprovalError("a release needs the signed-in reviewer who starts it (--reviewer)")
    activate_stack(stack, config.environment)
    client = MlflowClient(tracking_uri=active_tracking_uri())
    # refuse before any ZenML work
    require_approved(client, config.model_name, version, staged=action == "promote")
    arguments: dict[str, object] = {"config": config, "version": str(version), "actor": actor}
    if action == "rollback":
        pipeline, prefix = rollback_pipeline, "rollback"
        arguments["reason"] = reason
    else:
        pipeline, prefix = promotion_pipeline, "promotion"
    lock = f"release-{config.model_name}"
    with exclusive(lock, blocking=False) as acquired:
        if not acquired:
            raise ApprovalError(
                f"another promotion or rollback of '{config.model_name}' is running "
                f"({lock_holder(lock) or 'it just finished'}); wait for it to finish"
            )
        run_name = new_run_name(prefix)
        run = run_pipeline(pipeline, run_name, arguments, config, stack, strict=False)
    result = step_output(run, "deploy_to_production", "production_deployment")
    return {**result, "run_name": run.name}
