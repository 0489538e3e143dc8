"""Pick the serving backend from the active stack, so pipelines never know which one runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from configs.config import RunConfig
from stacks.seldon.local_backend import EndpointState, EndpointStatus, ModelRef
from stacks.seldon.local_deployer import FLAVOR_NAME as LOCAL_FLAVOR
from stacks.seldon.local_deployer import as_local_deployer
from steps.errors import PipelineInputError


class ServingBackend(Protocol):
    """What pipelines, run.py and the console may ask of any serving backend.

    Environments are "staging" and "production". `deploy` serves a model only after
    `verify(prediction_url)` returned without raising, and leaves the previous model serving when
    it raises.
    """

    def deploy(
        self, environment: str, model: ModelRef, verify: Callable[[str], None]
    ) -> EndpointState:
        """Serve `model` once `verify` accepted it; on failure the previous model keeps serving."""
        ...

    def status(self, environment: str) -> EndpointStatus:
        """What serves in `environment`, and whether it is healthy."""
        ...

    def stop(self, environment: str) -> bool:
        """Stop serving; False when nothing was serving."""
        ...

    def restart(self, environment: str) -> EndpointState:
        """Serve the recorded version again (after a crash or a reboot)."""
        ...

    def logs(self, environment: str, lines: int = 50) -> str:
        """The last lines of the model server's log."""
        ...


def serving_backend(config: RunConfig) -> ServingBackend:
    """The backend of the active stack's model deployer: `seldon` (Kubernetes) or `local-seldon`.

    Must be called at run time (inside a step or a command), never at import time.
    """
    from zenml.client import Client

    stack = Client().active_stack
    deployer = stack.model_deployer
    if deployer is not None and deployer.flavor == "seldon":
        # One SeldonDeployment per environment, through the Kubernetes API (gpu-k8s stack).
        from stacks.seldon.kubernetes_serving import kubernetes_serving_backend

        return kubernetes_serving_backend(config, stack)
    local = as_local_deployer(deployer)
    if local is None:
        have = f"a '{deployer.flavor}' model deployer" if deployer else "no model deployer"
        raise PipelineInputError(
            f"stack '{stack.name}' has {have}; serving needs a model deployer of flavor "
            f"'{LOCAL_FLAVOR}' (local processes) or 'seldon' (Seldon Core on Kubernetes)"
        )
    tracker = stack.experiment_tracker
    if tracker is None:
        raise PipelineInputError(f"stack '{stack.name}' has no MLflow experiment tracker")
    return local.serving_backend(
        dict(config.deployment.local_ports),
        str(tracker.get_tracking_uri()),  # type: ignore[attr-defined]
        config.deployment.max_rows,
    )
