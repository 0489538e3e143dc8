"""The active ZenML stack: activate one by name, read its MLflow URI, build its run options.

Everything here runs when a command or pipeline launches, never at import time, so no module
reads the active stack before the CLI has chosen it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlcicd.config import DataSchema, RunConfig
from mlcicd.errors import PipelineInputError
from mlcicd.paths import REPO_ROOT


@dataclass(frozen=True)
class Environment:
    """A loaded environment config, its schema, and the stack it runs on."""

    config: RunConfig
    schema: DataSchema
    stack: str


def open_environment(
    config_ref: str, stack: str | None = None, *, activate: bool = False
) -> Environment:
    """What every entry point does first (CLI command, console): load, prepare, pick the stack.

    `stack` overrides the config's own; with `activate` the stack is registered and activated.
    """
    from mlcicd.config import load_config
    from mlcicd.paths import prepare_environment

    config, schema = load_config(config_ref)
    prepare_environment()
    environment = Environment(config, schema, stack or config.stack)
    if activate:
        activate_stack(environment.stack, config.environment)
    return environment


def activate_stack(stack_name: str, environment: str | None = None) -> None:
    """Make the repository the source root and the named stack active (registering it if needed).

    A remote stack is registered per environment (`gpu-k8s-staging`), see `for_environment`.
    """
    from zenml.utils import source_utils

    from mlcicd.stack.loader import ensure_stack

    source_utils.set_custom_source_root(str(REPO_ROOT))
    ensure_stack(stack_name, environment=environment)


def active_tracking_uri() -> str:
    """MLflow tracking URI of the active stack's experiment tracker."""
    from zenml.client import Client

    tracker = Client().active_stack.experiment_tracker
    if tracker is None:
        raise PipelineInputError("the active stack has no MLflow experiment tracker")
    return str(tracker.get_tracking_uri())  # type: ignore[attr-defined]


def stack_run_options(
    pipeline: Any,
    arguments: dict[str, Any],
    config: RunConfig,
    stack_name: str,
    *,
    strict: bool = True,
) -> dict[str, Any]:
    """`with_options` keywords for the stack: GPU pod and image settings on Kubernetes, else none.

    Built from the environment config when the pipeline is launched, never at import time.
    `strict=False` for pipelines without the training step (promotion, rollback).
    """
    from mlcicd.stack.loader import load_stack_spec
    from mlcicd.stack.pod_settings import is_kubernetes_stack, run_options

    spec = load_stack_spec(stack_name)
    if not is_kubernetes_stack(spec):
        return {}
    probe = pipeline.copy()
    probe.prepare(**arguments)
    options = run_options(config, spec, step_names=list(probe.invocations), strict=strict)
    return {"settings": options.settings, "steps": options.steps}


def request_log_storage_options(
    config: RunConfig, artifact_store: Any = None
) -> dict[str, dict[str, Any]]:
    """fsspec options to read shipped request logs: the active S3 artifact store's.

    The pods ship next to the artifacts by default (docs/gpu-k8s.md), so the store's own
    credentials and endpoint (ZenML secret, client_kwargs) reach them; an endpoint set in
    `kubernetes.serving.request_log_sink` wins. Other stores add nothing, and the storage client
    falls back to its usual environment variables (AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL_S3).
    """
    if artifact_store is None:
        from zenml.client import Client

        artifact_store = Client().active_stack.artifact_store
    options = _storage_options_of(artifact_store)
    endpoint = config.kubernetes.serving.request_log_sink.endpoint_url
    if endpoint:
        s3 = options.setdefault("s3", {})
        s3["client_kwargs"] = {**s3.get("client_kwargs", {}), "endpoint_url": endpoint}
    return options


def _storage_options_of(store: Any) -> dict[str, dict[str, Any]]:
    try:
        from zenml.integrations.s3.artifact_stores.s3_artifact_store import S3ArtifactStore
    except ImportError:  # the s3 integration's requirements are not installed
        return {}
    if not isinstance(store, S3ArtifactStore):
        return {}
    key, secret, token, region = store.get_credentials()
    client_kwargs: dict[str, Any] = {"region_name": region} if region else {}
    client_kwargs.update(store.config.client_kwargs or {})
    options: dict[str, Any] = {"client_kwargs": client_kwargs}
    if key and secret:
        options.update(key=key, secret=secret, token=token)
    return {"s3": options}
