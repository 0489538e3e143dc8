"""Rollback pipeline: serve an earlier approved version in production again, with a reason."""

from __future__ import annotations

from zenml import pipeline

from mlcicd.config import RunConfig
from mlcicd.failures import record_failure
from steps.deploy.deploy_to_production import deploy_to_production


@pipeline(enable_cache=False, on_failure=record_failure)
def rollback_pipeline(config: RunConfig, version: str, actor: str, reason: str) -> None:
    """The same smoke-tested deployment as a promotion, recorded as `rolled_back`."""
    deploy_to_production(
        config=config, version=version, actor=actor, action="rollback", reason=reason
    )
