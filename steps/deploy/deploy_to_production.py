"""Step: serve an approved version in production, smoke-test it, and only then move `champion`.

Mirrors deploy_to_staging: the backend verifies the candidate on a spare port with the same smoke
test before it replaces what serves, so a failed smoke test leaves production as it was. A
rollback is the same path with another reason and event name.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

import mlflow
from mlflow import MlflowClient
from zenml import log_metadata, step

from configs.config import RunConfig, load_schema
from stacks.seldon.backends import serving_backend
from stacks.seldon.local_backend import ModelRef
from steps.deploy.approvals import (
    ApprovalError,
    AuditEvent,
    append_event,
    clean_reason,
    now_utc,
    require_approved,
)
from steps.deploy.smoke_test import SmokeResult, smoke_verifier
from steps.register.registry import move_alias, version_by_alias

Action = Literal["promote", "rollback"]
_DONE_EVENT = {"promote": "promoted", "rollback": "rolled_back"}
_START_EVENT = {"promote": "promotion_started", "rollback": "rollback_started"}
_FAILED_EVENT = {"promote": "promotion_failed", "rollback": "rollback_failed"}


def _say(message: str) -> None:
    """Progress lines; the console shows the promote command's output as its progress."""
    print(f"[production] {message}", flush=True)


def deploy_version_to_production(
    client: MlflowClient,
    config: RunConfig,
    version: str,
    actor: str,
    action: Action = "promote",
    reason: str = "",
    results: list[SmokeResult] | None = None,
) -> dict[str, str]:
    """Deploy `version` to production after re-checking its approval; move `champion` last.

    Every smoke-test result is appended to `results`, also when the deployment fails.
    """
    from steps.data.loading import read_table

    name = config.model_name
    decision = require_approved(client, name, version)
    previous = version_by_alias(client, name, "champion") or ""
    if action == "rollback":
        reason = clean_reason(reason)
    backend = serving_backend(config)
    status = backend.status("production")
    serving = status.state.model_version if status.state and status.running else None
    if previous == decision.version and serving == decision.version:
        _say(f"version {version} is already champion and serves in production; nothing to do")
        return {"status": "unchanged", "model_version": version, "from_version": previous}
    settings = config.deployment.production
    schema = load_schema(config.data.schema_file())
    golden = read_table(config.data.golden, config.data, schema, "golden")
    rows = golden.head(settings.smoke_requests)
    _say(f"loading {name} version {version} for the smoke test")
    model = mlflow.pyfunc.load_model(f"models:/{name}/{version}").unwrap_python_model()
    common = {"model_name": name, "version": version, "actor": actor, "reason": reason}
    append_event(
        AuditEvent(
            event=_START_EVENT[action],
            at=now_utc(),
            from_version=previous,
            environment="production",
            report_sha256=decision.report_sha256,
            **common,
        )
    )
    results = results if results is not None else []

    verify = smoke_verifier(
        "production",
        model,
        rows,
        name,
        version,
        settings.smoke_p95_ms,
        settings.probability_tolerance,
        config.deployment.max_rows,
        results,
        say=_say,
    )

    _say(f"deploying version {version} to production (now serving: {serving or 'nothing'})")
    try:
        state = backend.deploy(
            "production", ModelRef(name, version, f"models:/{name}/{version}"), verify
        )
    except Exception as exc:
        append_event(
            AuditEvent(
                event=_FAILED_EVENT[action],
                at=now_utc(),
                from_version=previous,
                environment="production",
                detail=f"{type(exc).__name__}: {exc}"[:2000],
                **common,
            )
        )
        raise
    move_alias(client, name, "champion", version)
    when = now_utc()
    client.set_model_version_tag(name, version, "production_smoke_test", "passed")
    client.set_model_version_tag(name, version, "production_url", state.url)
    client.set_model_version_tag(name, version, f"{_DONE_EVENT[action]}_at", when)
    client.set_model_version_tag(name, version, f"{_DONE_EVENT[action]}_by", actor)
    append_event(
        AuditEvent(
            event=_DONE_EVENT[action],
            at=when,
            from_version=previous,
            environment="production",
            report_sha256=decision.report_sha256,
            detail=state.url,
            **common,
        )
    )
    _say(f"alias 'champion' moved from {previous or 'none'} to {version}; serving at {state.url}")
    smoke = results[-1]
    return {
        "status": "serving",
        "environment": "production",
        "url": state.url,
        "model_version": version,
        "from_version": previous,
        "pid": str(state.pid),
        "smoke_p95_ms": f"{smoke.p95_ms:.2f}",
        "smoke_max_probability_difference": f"{smoke.max_probability_difference:.3g}",
    }


@step(experiment_tracker=True)
def deploy_to_production(
    config: RunConfig, version: str, actor: str, action: str = "promote", reason: str = ""
) -> Annotated[dict[str, str], "production_deployment"]:
    """The pipeline step around deploy_version_to_production; logs the smoke test to MLflow."""
    if action not in _DONE_EVENT:
        raise ApprovalError(f"unknown action '{action}'")
    kind: Action = "rollback" if action == "rollback" else "promote"
    results: list[SmokeResult] = []
    try:
        deployment = deploy_version_to_production(
            MlflowClient(),
            config,
            version,
            actor,
            kind,
            reason,
            results,
        )
    finally:
        if results:
            mlflow.log_text(
                json.dumps([r.to_dict() for r in results], indent=2),
                "deployment/production_smoke_test.json",
            )
    log_metadata({"production_deployment": deployment})
    return deployment
