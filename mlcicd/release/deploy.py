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
from mlcicd.serving.contract import ModelRef, ServingBackend

if TYPE_CHECKING:
    from mlflow import MlflowClient

Environment = Literal["staging", "production"]
ALIAS_OF = {"staging": "staging", "production": "champion"}


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
) -> dict[str, str]:
    """Deploy `version` behind the smoke test, move the environment's alias, tag the version.

    `model` is the in-process model the served answers are compared with. Every smoke-test result
    is appended to `results`, also when the deployment fails.
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
    state = backend.deploy(
        environment, ModelRef(name, version, f"models:/{name}/{version}"), verify
    )
    move_alias(client, name, ALIAS_OF[environment], version)
    client.set_model_version_tag(name, version, f"{environment}_smoke_test", "passed")
    client.set_model_version_tag(name, version, f"{environment}_url", state.url)
    smoke = results[-1]
    return {
        "status": "serving",
        "environment": environment,
        "url": state.url,
        "model_version": version,
        "pid": str(state.pid),
        "smoke_p95_ms": f"{smoke.p95_ms:.2f}",
        "smoke_max_probability_difference": f"{smoke.max_probability_difference:.3g}",
    }
