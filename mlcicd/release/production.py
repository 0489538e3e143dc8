"""Promote or roll back: serve an approved version in production and record it in the audit log.

A rollback is the same path to an earlier approved version, with a reason and its own event
names. The approval is re-checked right before the deployment, and `champion` moves last.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from mlcicd.config import RunConfig, load_schema
from mlcicd.registry.versions import version_by_alias
from mlcicd.release.approvals import clean_reason, require_approved
from mlcicd.release.audit import AuditEvent, append_event, now_utc
from mlcicd.release.deploy import serve_verified_version
from mlcicd.release.smoke_test import SmokeResult, say_nothing
from mlcicd.serving.backends import serving_backend

if TYPE_CHECKING:
    from mlflow import MlflowClient

Action = Literal["promote", "rollback"]
ACTIONS: tuple[Action, ...] = ("promote", "rollback")
_DONE_EVENT = {"promote": "promoted", "rollback": "rolled_back"}
_START_EVENT = {"promote": "promotion_started", "rollback": "rollback_started"}
_FAILED_EVENT = {"promote": "promotion_failed", "rollback": "rollback_failed"}


def deploy_version_to_production(
    client: MlflowClient,
    config: RunConfig,
    version: str,
    actor: str,
    action: Action = "promote",
    reason: str = "",
    results: list[SmokeResult] | None = None,
    say: Callable[[str], None] = say_nothing,
) -> dict[str, str]:
    """Deploy `version` to production after re-checking its approval; move `champion` last.

    Every smoke-test result is appended to `results`, also when the deployment fails; `say`
    receives the progress lines (the console shows a release job's output as its progress).
    """
    import mlflow

    from mlcicd.data.loading import read_table

    name = config.model_name
    decision = require_approved(client, name, version)
    previous = version_by_alias(client, name, "champion") or ""
    if action == "rollback":
        reason = clean_reason(reason)
    backend = serving_backend(config)
    status = backend.status("production")
    serving = status.state.model_version if status.state and status.running else None
    if previous == decision.version and serving == decision.version:
        say(f"version {version} is already champion and serves in production; nothing to do")
        return {"status": "unchanged", "model_version": version, "from_version": previous}
    settings = config.deployment.production
    schema = load_schema(config.data.schema_file())
    golden = read_table(config.data.golden, config.data, schema, "golden")
    rows = golden.head(settings.smoke_requests)
    say(f"loading {name} version {version} for the smoke test")
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
    say(f"deploying version {version} to production (now serving: {serving or 'nothing'})")
    try:
        deployment = serve_verified_version(
            client, backend, config, "production", model, rows, version, results, say=say
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
    when = now_utc()
    client.set_model_version_tag(name, version, f"{_DONE_EVENT[action]}_at", when)
    client.set_model_version_tag(name, version, f"{_DONE_EVENT[action]}_by", actor)
    append_event(
        AuditEvent(
            event=_DONE_EVENT[action],
            at=when,
            from_version=previous,
            environment="production",
            report_sha256=decision.report_sha256,
            detail=deployment["url"],
            **common,
        )
    )
    say(
        f"alias 'champion' moved from {previous or 'none'} to {version}; "
        f"serving at {deployment['url']}"
    )
    return {**deployment, "from_version": previous}
