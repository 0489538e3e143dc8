"""Pick the serving backend from the active stack, so pipelines never know which one runs."""

from __future__ import annotations

from mlcicd.config import RunConfig
from mlcicd.errors import PipelineInputError
from mlcicd.serving.contract import ServingBackend
from mlcicd.serving.local.deployer import FLAVOR_NAME as LOCAL_FLAVOR
from mlcicd.serving.local.deployer import as_local_deployer
from mlcicd.serving.server.protocol import ServerOptions


def serving_backend(config: RunConfig) -> ServingBackend:
    """The backend of the active stack's model deployer: `seldon` (Kubernetes) or `local-seldon`.

    Must be called at run time (inside a step or a command), never at import time.
    """
    from zenml.client import Client

    stack = Client().active_stack
    deployer = stack.model_deployer
    if deployer is not None and deployer.flavor == "seldon":
        # One SeldonDeployment per environment, through the Kubernetes API (gpu-k8s stack).
        from mlcicd.serving.kubernetes.backend import kubernetes_serving_backend

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
        server_options(config),
    )


def server_options(config: RunConfig) -> ServerOptions:
    """What every model server of this config is started with, locally and on Kubernetes."""
    return ServerOptions(
        max_rows=config.deployment.max_rows,
        runtime=config.packaging.serving_runtime,
        threads=config.packaging.serving_threads,
    )
