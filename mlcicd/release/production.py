"""Promote or roll back: serve an approved version in production and record it in the store.

A rollback is the same path to an earlier approved version, with a reason and its own event
names. The approval is re-checked right before the deployment; a promotion is also judged again
by the production gates against the champion of that moment; `champion` moves last.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from mlcicd.config import RunConfig, load_schema
from mlcicd.registry.versions import load_version, move_alias, version_by_alias
from mlcicd.release.approvals import clean_reason, current_report, require_approved
from mlcicd.release.audit import AuditEvent, append_event, now_utc
from mlcicd.release.deploy import RollOut, serve_verified_version
from mlcicd.release.promotion_gates import rejudge
from mlcicd.release.review import SHADOW_ARTIFACT
from mlcicd.release.rollout.engine import recover_interrupted, run_rollout
from mlcicd.release.smoke_test import SmokeResult, say_nothing
from mlcicd.serving.backends import serving_backend
from mlcicd.serving.contract import EndpointState, ModelRef, TrafficControl

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
    from mlcicd.data.loading import read_golden

    name = config.model_name
    decision = require_approved(client, name, version, staged=action == "promote")
    previous = version_by_alias(client, name, "champion") or ""
    if action == "rollback":
        reason = clean_reason(reason)
    backend = serving_backend(config)
    traffic = backend.traffic()
    recover_interrupted(traffic, "production", say)
    status = backend.status("production")
    serving = status.state.model_version if status.state and status.running else None
    if previous == decision.version and serving == decision.version:
        say(f"version {version} is already champion and serves in production; nothing to do")
        return {"status": "unchanged", "model_version": version, "from_version": previous}
    warm = next((v for v in status.variants if v.version == version and v.role == "previous"), None)
    if action == "rollback" and serving and warm is not None and warm.healthy:
        return _switch_back(client, config, traffic, version, serving, actor, reason, say)
    settings = config.deployment.production
    schema = load_schema(config.data.schema_file())
    golden = read_golden(config.data, schema)
    rows = golden.head(settings.smoke_requests)
    say(f"loading {name} version {version} for the smoke test")
    model, onnx_model = load_version(client, name, version)
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
    try:
        if action == "promote" and previous != decision.version:
            say(f"judging version {version} with the promotion gates against today's champion")
            stored = current_report(client, name, decision.version)
            report = rejudge(client, config, decision.version, model, onnx_model, golden, stored)
            say(f"promotion gates passed ({len(report.gates)} gates)")
        say(f"deploying version {version} to production (now serving: {serving or 'nothing'})")
        deployment = serve_verified_version(
            client, backend, config, "production", model, rows, version, results, say=say,
            roll_out=_rollout_for(client, config, traffic, serving, action, say),
        )  # fmt: skip
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
    if deployment["status"] == "shadowed":
        append_event(
            AuditEvent(
                event="shadowed",
                at=now_utc(),
                from_version=previous,
                environment="production",
                detail="shadow rollout finished; champion unchanged (rollout.shadow.then: stop)",
                **common,
            )
        )
        say(f"v{version} was shadowed; 'champion' stays {previous or 'none'}")
        return {**deployment, "from_version": previous}
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


def _rollout_for(
    client: MlflowClient,
    config: RunConfig,
    traffic: TrafficControl,
    serving: str | None,
    action: Action,
    say: Callable[[str], None],
) -> RollOut | None:
    """The configured strategy beside what serves; None (direct) for a first release or rollback.

    A rollback replaces a version found wanting: it goes straight to all traffic after its smoke
    test rather than through a canary.
    """
    if config.rollout.strategy == "direct" or serving is None or action == "rollback":
        if config.rollout.strategy != "direct" and serving is None:
            say("no version serves in production yet: the first release goes direct")
        return None

    def roll_out(model: ModelRef, verify: Callable[[str], None]) -> EndpointState | None:
        result = run_rollout(traffic, config.rollout, "production", model, verify, say)
        if result.shadow_report is not None:
            run_id = client.get_model_version(model.name, model.version).run_id
            if run_id:  # the review page shows it beside the evaluation report
                client.log_dict(run_id, result.shadow_report, SHADOW_ARTIFACT)
        return result.state if result.promoted else None

    return roll_out


def _switch_back(
    client: MlflowClient,
    config: RunConfig,
    traffic: TrafficControl,
    version: str,
    serving: str,
    actor: str,
    reason: str,
    say: Callable[[str], None],
) -> dict[str, str]:
    """Rollback to the warm previous version of a blue/green release: one weight change."""
    name = config.model_name
    traffic.set_traffic(
        "production",
        {version: ("stable", 100), serving: ("previous", 0)},
        retire_after_seconds=config.rollout.blue_green.keep_previous_seconds,
    )
    move_alias(client, name, "champion", version)
    when = now_utc()
    client.set_model_version_tag(name, version, "rolled_back_at", when)
    client.set_model_version_tag(name, version, "rolled_back_by", actor)
    url = traffic.url("production")
    append_event(
        AuditEvent(
            event="rolled_back",
            model_name=name,
            version=version,
            actor=actor,
            at=when,
            reason=reason,
            from_version=serving,
            environment="production",
            detail=f"{url} (switch back to the warm previous version)",
        )
    )
    say(f"switched all traffic back to the warm v{version}; 'champion' moved from {serving}")
    return {
        "status": "serving",
        "environment": "production",
        "url": url,
        "model_version": version,
        "from_version": serving,
    }
