"""Promotion pipeline: deploy an approved version to production, smoke-test it, move `champion`.

Launched by `mlcicd.runner.release.run_release` (`python run.py promote`, the console's Approve).
"""

from __future__ import annotations

from zenml import pipeline

from mlcicd.config import RunConfig
from mlcicd.failures import record_failure
from steps.deploy.deploy_to_production import deploy_to_production


@pipeline(enable_cache=False, on_failure=record_failure)
def promotion_pipeline(config: RunConfig, version: str, actor: str) -> None:
    """One step: the approval is re-checked inside it, right before the deployment."""
    deploy_to_production(config=config, version=version, actor=actor, action="promote")
