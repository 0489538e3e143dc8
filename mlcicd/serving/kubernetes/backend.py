"""The ServingBackend of the gpu-k8s stack: one SeldonDeployment per environment.

An adapter over SeldonKubernetesBackend (idempotent apply through CustomObjectsApi) that gives
pipelines, run.py and the console the same five calls the local backend has:

- deploy: apply the single-predictor document of `<prefix>-<environment>`, wait until the
  operator reports it Available (a timeout or a Failed state is an error naming the deployment
  and the operator's message) and the model's metadata through the ingress names the new
  version, call `verify(prediction URL through the ingress)`; when anything
  after the apply fails, re-apply the document that served before (or delete the new resource
  when nothing served before), then raise.
- status maps the SeldonDeployment's `.status` to EndpointStatus, one variant per predictor
  (traffic.py); stop deletes the resource; restart rolls the pods of the recorded document;
  logs says which kubectl command shows them (the logs live in the cluster, not here).
- traffic gives the rollout engine the finer controls: versions side by side as predictors of
  the same SeldonDeployment, and the weights between them (traffic.py).

Which deployment serves which environment is resolved in `environments`; reading stored
documents back (re-apply, restart) is in `documents`, which predictor serves which version in
which role in `variants`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import requests

from mlcicd.config import RunConfig
from mlcicd.config.kubernetes import PrometheusConfig
from mlcicd.serving.contract import EndpointState, EndpointStatus, ModelRef, ServingError
from mlcicd.serving.kubernetes.client import CustomObjectsApiLike, SeldonKubernetesBackend
from mlcicd.serving.kubernetes.documents import RESTARTED_AT, clean_for_reapply, restarted
from mlcicd.serving.kubernetes.environments import environment_backends
from mlcicd.serving.kubernetes.manifests import REQUEST_LOG_PATH, single_predictor
from mlcicd.serving.kubernetes.targets import GRAPH_NODE_NAME, ServedModel, external_url
from mlcicd.serving.kubernetes.traffic import SeldonTraffic
from mlcicd.serving.kubernetes.variants import ROLLOUT_ANNOTATION, stable_model
from mlcicd.serving.server.protocol import PREDICTIONS_PATH

if TYPE_CHECKING:
    from zenml.integrations.seldon.flavors.seldon_model_deployer_flavor import (
        SeldonModelDeployerConfig,
    )
    from zenml.stack import Stack

logger = logging.getLogger(__name__)

AVAILABLE = "Available"
FAILED = "Failed"
# Consecutive metadata answers naming the new version before the smoke test starts: requests are
# balanced over the pods, so a few in a row make an old pod still in rotation unlikely.
SERVED_CONFIRMATIONS = 3


@dataclass
class KubernetesEndpointState(EndpointState):
    """EndpointState of a SeldonDeployment: no local process (pid 0), a URL through the ingress."""

    namespace: str = ""
    deployment_name: str = ""
    prediction_url: str = ""

    @property
    def url(self) -> str:
        """The prediction endpoint through the Istio/Ambassador ingress."""
        return self.prediction_url


class SeldonKubernetesServing:
    """ServingBackend over one SeldonKubernetesBackend per environment."""

    def __init__(
        self,
        backends: dict[str, SeldonKubernetesBackend],
        *,
        kubernetes_context: str | None = None,
        ready_timeout: float = 600.0,
        poll_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        prometheus: PrometheusConfig | None = None,
    ) -> None:
        self.backends = dict(backends)
        self.kubernetes_context = kubernetes_context
        self.ready_timeout = ready_timeout
        self.poll_interval = poll_interval
        self._clock = clock
        self._sleep = sleep
        self.prometheus = prometheus
        self._traffic = SeldonTraffic(self)

    @classmethod
    def from_deployer_config(
        cls,
        config: RunConfig,
        deployer_config: SeldonModelDeployerConfig,
        tracking_uri: str,
        registry_uri: str | None,
        *,
        api: CustomObjectsApiLike | None = None,
        artifact_path: str | None = None,
        artifact_endpoint: str | None = None,
        **kwargs: Any,
    ) -> SeldonKubernetesServing:
        """Backends for staging and production from the stack's Seldon deployer settings.

        The kubeconfig is read once (for the first environment) unless `api` is given. The
        artifact store's path and endpoint are the default home of the shipped request logs.
        """
        serving = config.kubernetes.serving
        backends = environment_backends(
            config,
            deployer_config,
            tracking_uri,
            registry_uri,
            api=api,
            artifact_path=artifact_path,
            artifact_endpoint=artifact_endpoint,
        )
        kwargs.setdefault("ready_timeout", serving.ready_timeout_seconds)
        kwargs.setdefault("poll_interval", serving.poll_interval_seconds)
        kwargs.setdefault("prometheus", serving.prometheus)
        return cls(backends, kubernetes_context=deployer_config.kubernetes_context, **kwargs)

    # -- helpers -------------------------------------------------------------------------------
    def _backend(self, environment: str) -> SeldonKubernetesBackend:
        if environment not in self.backends:
            raise ServingError(
                f"unknown environment '{environment}'; known: {', '.join(sorted(self.backends))}"
            )
        return self.backends[environment]

    def _state(
        self, environment: str, backend: SeldonKubernetesBackend, document: dict[str, Any]
    ) -> KubernetesEndpointState:
        target = backend.target
        model = stable_model(document) or ModelRef("?", "?", "?")
        parsed = urlparse(target.base_url)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        metadata = document.get("metadata") or {}
        started = str(
            ((metadata.get("annotations") or {}).get(RESTARTED_AT))
            or metadata.get("creationTimestamp")
            or ""
        )
        return KubernetesEndpointState(
            environment=environment,
            model_name=model.name,
            model_version=model.version,
            model_uri=model.uri,
            host=parsed.hostname or "",
            port=port,
            pid=0,
            pid_start_ticks=0,
            started_at=started,
            server_log=self._logs_command(backend, 50),
            request_log=f"{REQUEST_LOG_PATH} (inside each model pod)",
            namespace=target.namespace,
            deployment_name=target.deployment_name,
            prediction_url=external_url(target),
        )

    def _logs_command(self, backend: SeldonKubernetesBackend, lines: int) -> str:
        context = f" --context {self.kubernetes_context}" if self.kubernetes_context else ""
        return (
            f"kubectl{context} -n {backend.namespace} logs -l "
            f"seldon-deployment-id={backend.target.deployment_name} -c model --tail={lines} "
            "--prefix"
        )

    def _wait_available(self, backend: SeldonKubernetesBackend, version: str) -> dict[str, Any]:
        """Poll until the operator reports Available with every replica up, or fail loudly."""
        name = backend.target.deployment_name
        deadline = self._clock() + self.ready_timeout
        status: dict[str, Any] = {}
        while True:
            status = backend.status(name)
            state, description = status["state"], status["description"]
            served = status["stable_version"]
            if state == FAILED:
                raise ServingError(
                    f"SeldonDeployment '{name}' in namespace '{backend.namespace}' failed: "
                    f"{description or 'no message from the operator'}"
                )
            if (
                state == AVAILABLE
                and served == version
                and status["replicas"] > 0
                and status["replicas_available"] >= status["replicas"]
            ):
                return status
            if self._clock() >= deadline:
                raise ServingError(
                    f"SeldonDeployment '{name}' in namespace '{backend.namespace}' was not "
                    f"Available after {self.ready_timeout:.0f} s: state {state}"
                    + (f" ({description})" if description else "")
                    + f", {status['replicas_available']}/{status['replicas']} replicas "
                    f"available; inspect it with `{self._logs_command(backend, 100)}` and "
                    f"`kubectl -n {backend.namespace} describe seldondeployment {name}`"
                )
            self._sleep(self.poll_interval)

    def _wait_served_version(self, backend: SeldonKubernetesBackend, version: str) -> None:
        """Poll the model's metadata through the ingress until the new version answers.

        The operator's status carries no observed generation, so right after a replacement it
        can still describe the old pods; the model server's own metadata cannot.
        """
        name = backend.target.deployment_name
        url = external_url(backend.target).replace(
            PREDICTIONS_PATH, f"/api/v1.0/metadata/{GRAPH_NODE_NAME}"
        )
        deadline = self._clock() + self.ready_timeout
        confirmed, last = 0, "no answer yet"
        while True:
            try:
                answer = requests.get(url, timeout=10)
                versions = answer.json().get("versions") if answer.ok else None
                last = f"versions {versions}" if answer.ok else f"HTTP {answer.status_code}"
            except (requests.RequestException, ValueError, AttributeError) as exc:
                versions, last = None, f"{type(exc).__name__}: {exc}"
            confirmed = confirmed + 1 if versions == [version] else 0
            if confirmed >= SERVED_CONFIRMATIONS:
                return
            if self._clock() >= deadline:
                raise ServingError(
                    f"SeldonDeployment '{name}' in namespace '{backend.namespace}' is Available "
                    f"but did not serve version {version} within {self.ready_timeout:.0f} s "
                    f"(last metadata answer at {url}: {last})"
                )
            self._sleep(self.poll_interval if confirmed == 0 else min(1.0, self.poll_interval))

    def _roll_back(self, backend: SeldonKubernetesBackend, previous: dict[str, Any] | None) -> None:
        """Serve what served before; a failure here is logged, the original error is raised."""
        name = backend.target.deployment_name
        try:
            if previous is None:
                backend.delete(name)
                logger.warning("deleted %s: nothing served before the failed deployment", name)
                return
            backend.apply(clean_for_reapply(previous))
            model = stable_model(previous)
            if model is not None:
                self._wait_available(backend, model.version)
            logger.warning("rolled %s back to the document that served before", name)
        except Exception as exc:  # the deployment error matters more; say both
            logger.error("rollback of %s failed too: %s", name, exc)

    # -- the ServingBackend interface ---------------------------------------------------------
    def deploy(
        self, environment: str, model: ModelRef, verify: Callable[[str], None]
    ) -> EndpointState:
        """Apply, wait for Available, verify through the ingress; roll back on any failure."""
        backend = self._backend(environment)
        try:
            served = ServedModel(model.name, model.version, model.uri)
        except ValueError as exc:
            raise ServingError(f"cannot deploy to {environment}: {exc}") from None
        previous = backend.get()
        document = single_predictor(backend.target, served)
        annotations = ((previous or {}).get("metadata") or {}).get("annotations") or {}
        record = annotations.get(ROLLOUT_ANNOTATION)
        if record is not None:  # the last rollout stays visible (status, a re-run's recovery)
            document["metadata"]["annotations"][ROLLOUT_ANNOTATION] = record
        backend.apply(document)
        try:
            self._wait_available(backend, served.model_version)
            self._wait_served_version(backend, served.model_version)
            verify(external_url(backend.target))
        except BaseException:
            self._roll_back(backend, previous)
            raise
        stored = backend.get() or document
        return self._state(environment, backend, stored)

    def status(self, environment: str) -> EndpointStatus:
        """Healthy when the operator says Available with all replicas up; one variant each."""
        return self._traffic.status(environment)

    def traffic(self) -> SeldonTraffic:
        """The rollout's controls over the same SeldonDeployments (traffic.py)."""
        return self._traffic

    def stop(self, environment: str) -> bool:
        """Delete the environment's SeldonDeployment (a later deploy creates it again)."""
        return self._backend(environment).delete()

    def restart(self, environment: str) -> EndpointState:
        """Roll the pods of the recorded document (an annotation change in the pod template)."""
        backend = self._backend(environment)
        document = backend.get()
        if document is None:
            raise ServingError(
                f"nothing is deployed to {environment}: SeldonDeployment "
                f"'{backend.target.deployment_name}' does not exist in namespace "
                f"'{backend.namespace}' (stopped or never deployed); deploy a version again"
            )
        model = stable_model(document)
        if model is None:
            raise ServingError(
                f"SeldonDeployment '{backend.target.deployment_name}' was not written by this "
                "project (no stable predictor with model parameters); refusing to restart it"
            )
        body = restarted(document, datetime.now(UTC).isoformat(timespec="seconds"))
        backend.apply(body)
        self._wait_available(backend, model.version)
        return self._state(environment, backend, backend.get() or body)

    def request_logs(self, environment: str) -> list[str]:
        """The objects the pods' log-shipping sidecar put to S3 (`<sink>/YYYY/MM/DD/HH/*.jsonl`)."""
        sink = self._backend(environment).target.request_log_sink
        if sink is None:
            raise ServingError(
                f"the request logs of {environment} stay inside the model pods "
                f"({REQUEST_LOG_PATH}): kubernetes.serving.request_log_sink.enabled is false; "
                "enable it, or set monitoring.request_logs to where you ship them "
                "(docs/gpu-k8s.md, 'Monitoring')"
            )
        return [f"{sink.url}/**/*.jsonl"]

    def logs(self, environment: str, lines: int = 50) -> str:
        """Where the logs are: they live in the model pods, not on this machine."""
        backend = self._backend(environment)
        return (
            f"{environment} runs in Kubernetes (SeldonDeployment "
            f"'{backend.target.deployment_name}', namespace '{backend.namespace}'); its model "
            f"server logs are in the pods:\n  {self._logs_command(backend, lines)}\n"
            f"The request log is {REQUEST_LOG_PATH} inside each model pod."
        )


def kubernetes_serving_backend(
    config: RunConfig, stack: Stack, api: CustomObjectsApiLike | None = None
) -> SeldonKubernetesServing:
    """The adapter for a stack whose model deployer is ZenML's `seldon` flavor."""
    from zenml.integrations.seldon.flavors.seldon_model_deployer_flavor import (
        SeldonModelDeployerConfig,
    )

    deployer = stack.model_deployer
    if deployer is None or not isinstance(deployer.config, SeldonModelDeployerConfig):
        raise ServingError(f"stack '{stack.name}' has no Seldon model deployer")
    tracker = stack.experiment_tracker
    if tracker is None:
        raise ServingError(f"stack '{stack.name}' has no MLflow experiment tracker")
    registry = stack.container_registry
    store = stack.artifact_store.config
    endpoint = (getattr(store, "client_kwargs", None) or {}).get("endpoint_url")
    return SeldonKubernetesServing.from_deployer_config(
        config,
        deployer.config,
        str(tracker.get_tracking_uri()),  # type: ignore[attr-defined]
        registry.config.uri if registry is not None else None,
        api=api,
        artifact_path=str(store.path),
        artifact_endpoint=str(endpoint) if endpoint else None,
    )
