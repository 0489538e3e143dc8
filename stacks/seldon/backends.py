"""Pick the serving backend from the active stack, so pipelines never know which one runs."""

from __future__ import annotations

import os
from pathlib import Path

from configs.config import REPO_ROOT, RunConfig
from stacks.seldon.local_backend import LocalSeldonBackend
from steps.errors import PipelineInputError


def local_serving_root() -> Path:
    """Where the local backend keeps state files and logs: <ML_CICD_HOME>/serving."""
    home = Path(os.environ.get("ML_CICD_HOME") or REPO_ROOT / ".local")
    return home.resolve() / "serving"


def local_backend(config: RunConfig, tracking_uri: str) -> LocalSeldonBackend:
    """The local backend with the environment config's ports."""
    return LocalSeldonBackend(
        root=local_serving_root(),
        ports=dict(config.deployment.local_ports),
        tracking_uri=tracking_uri,
        max_rows=config.deployment.max_rows,
    )


def serving_backend(config: RunConfig) -> LocalSeldonBackend:
    """The backend of the active stack: a Seldon model deployer means Kubernetes, none means local.

    Must be called at run time (inside a step or a command), never at import time.
    """
    from zenml.client import Client

    stack = Client().active_stack
    deployer = stack.model_deployer
    if deployer is not None and deployer.flavor == "seldon":
        # SeldonDeployment resources are generated and tested (kubernetes_backend.py); running
        # them from the pipeline arrives with the gpu-k8s stack, which has no stack file yet.
        raise PipelineInputError(
            f"stack '{stack.name}' serves through Seldon Core on Kubernetes, which the staging "
            "step cannot drive yet; use the local stack"
        )
    tracker = stack.experiment_tracker
    if tracker is None:
        raise RuntimeError(f"stack '{stack.name}' has no MLflow experiment tracker")
    return local_backend(config, str(tracker.get_tracking_uri()))  # type: ignore[attr-defined]
