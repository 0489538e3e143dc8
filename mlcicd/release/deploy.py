"""Serve a verified version in one environment, then move its alias: staging and production alike.

The backend starts the candidate beside what serves and runs the smoke test against it before it
takes over, so a failed smoke test leaves the environment serving what it served. The alias moves
last, only after the new version answers correctly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from mlcicd.config import RunConfig
from mlcicd.registry.versions import move_alias
from mlcicd.release.smoke_test import SmokeResult, say_nothing, smoke_verifier
from mlcicd.serving.contract import EndpointState, ModelRef, ServingBackend

if TYPE_CHECKING:
    from mlflow import MlflowClient

Environment = Literal["staging", "production"]
ALIAS_OF = {"staging": "staging", "production": "champion"}
# (the version, the smoke test to run on it) -> what serves afterwards, None if only shadowed
RollOut = Callable[[ModelRef, Callable[[str], None]], EndpointState | None]


def serve_verified_version(
    client: MlflowClient,
    backend: ServingBackend,
    config: RunConfig,
    environment: Environment,
    model: Any,
    rows: pd.DataFrame,
    version: str,
    results: list[SmokeResult],
    say: Callable[[str], None] = say_nothing,
    roll_out: RollOut | None = None,
) -> dict[str, str]:
    """Deploy `version` behind the smoke test, move the environment's alias, tag the version.

    `model` is the in-process model the served answers are compared with. Every smoke-test result
    is appended to `results`, also when the deployment fails. `roll_out` replaces the direct
    deployment (a canary, blue/green or shadow rollout); when it returns None the version was
    only shadowed and no alias moves.
    """
    name = config.model_name
    settings = getattr(config.deployment, environment)
    verify = smoke_verifier(
        environment,
        model,
        rows,
        name,
        version,
        settings.smoke_p95_ms,
        settings.probability_tolerance,
        config.deployment.max_rows,
        results,
        say=say,
    )
    ref = ModelRef(name, version, f"models:/{name}/{version}")
    if roll_out is None:
        state: EndpointState | None = backend.deploy(environment, ref, verify)
    else:
        state = roll_out(ref, verify)
    smoke = results[-1]
    if state is None:
        client.set_model_version_tag(name, version, f"{environment}_shadow", "passed")
        return {
            "status": "shadowed",
            "environment": environment,
            "url": "",
            "model_version": version,
            "smoke_p95_ms": f"{smoke.p95_ms:.2f}",
        }
    move_alias(client, name, ALIAS_OF[environment], version)
    client.set_model_version_tag(name, version, f"{environment}_smoke_test", "passed")
    client.set_model_version_tag(name, version, f"{environment}_url", state.url)
    # the latency baseline the production monitor compares each window's p99 with
    client.set_model_version_tag(
        name, version, f"{environment}_smoke_p95_ms", f"{smoke.p95_ms:.3f}"
    )
    return {
        "status": "serving",
        "environment": environment,
        "url": state.url,
        "model_version": version,
        "pid": str(state.pid),
        "smoke_p95_ms": f"{smoke.p95_ms:.2f}",
        "smoke_max_probability_difference": f"{smoke.max_probability_difference:.3g}",
    }


def stage_version(
    client: MlflowClient,
    backend: ServingBackend,
    config: RunConfig,
    model: Any,
    rows: pd.DataFrame,
    version: str,
    results: list[SmokeResult],
) -> dict[str, str]:
    """Serve `version` in staging behind the smoke test and record the verdict either way.

    The verdict (`staging_passed` / `staging_failed`, with the version's report sha256) goes to
    the release store, where approval and promotion look for it; a tag mirrors it in the registry.
    """
    from mlcicd.release.audit import AuditEvent, append_event, now_utc

    name = config.model_name
    report_sha = client.get_model_version(name, version).tags.get("evaluation_report_sha256", "")
    common = {"model_name": name, "version": version, "actor": "training pipeline"}
    try:
        deployment = serve_verified_version(
            client, backend, config, "staging", model, rows, version, results
        )
    except Exception as exc:
        detail = f"{type(exc).__name__}: {exc}"[:2000]
        append_event(
            AuditEvent(
                event="staging_failed", at=now_utc(), environment="staging",
                report_sha256=report_sha, detail=detail, **common,
            )
        )  # fmt: skip
        client.set_model_version_tag(name, version, "staging_smoke_test", "failed")
        raise
    append_event(
        AuditEvent(
            event="staging_passed", at=now_utc(), environment="staging",
            report_sha256=report_sha, **common,
            detail=f"{deployment['url']} p95 {deployment['smoke_p95_ms']} ms",
        )
    )  # fmt: skip
    return deployment
