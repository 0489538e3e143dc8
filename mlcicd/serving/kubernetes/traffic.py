"""The rollout's traffic controls on Kubernetes: versions as predictors of one SeldonDeployment.

Each environment is one SeldonDeployment (Seldon Core v1). A candidate is started as one more
predictor with traffic 0 (Seldon's webhook checks only that the non-shadow traffic sums to 100,
so a 0 beside the stable's 100 is accepted), verified at its own Service, then given weight by
changing `predictors[].traffic`; a shadow is `shadow: true` (Istio mirrors every request to it,
its answers are dropped); a `previous` version is a predictor kept at traffic 0, warm for an
instant switch-back; an idle one is started but not routed, and stopping a version removes its
predictor. Every change is one JSON patch guarded by `test` ops (patches.py): a table Seldon
would refuse is refused here before anything is sent, and a concurrent change of the predictors
makes the API server refuse the whole patch. After each change the operator must report every
predictor available again before the next step.

What runs where: a 0-traffic predictor cannot be reached through the ingress (it splits by
weight), so the candidate is verified at `http://<deployment>-<predictor>.<namespace>.svc.
cluster.local:8000`, which resolves only inside the cluster: run the release from a pod there
(a step pod of the gpu-k8s stack), or the verification fails with a message saying so. The
analysis reads Prometheus (kubernetes.serving.prometheus), reachable from either side when its
URL is.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import requests

from mlcicd.serving.contract import EndpointStatus, ModelRef, ServingError
from mlcicd.serving.kubernetes.client import SeldonKubernetesBackend
from mlcicd.serving.kubernetes.manifests import variant_predictor
from mlcicd.serving.kubernetes.patches import (
    add_patch,
    check_table,
    now_utc,
    remove_patch,
    traffic_patch,
)
from mlcicd.serving.kubernetes.targets import STABLE, ServedModel, external_url
from mlcicd.serving.kubernetes.variants import (
    PREVIOUS,
    ROLLOUT_ANNOTATION,
    Predictor,
    json_annotation,
    predictor_name,
    predictor_replicas,
    predictor_url,
    predictors,
    raw_predictors,
    rollout_record,
    variant_status,
)
from mlcicd.serving.metrics.promql import PrometheusMetricsSource

if TYPE_CHECKING:
    from mlcicd.serving.kubernetes.backend import SeldonKubernetesServing

logger = logging.getLogger(__name__)

AVAILABLE = "Available"
FAILED = "Failed"
PROMETHEUS_KEY = "kubernetes.serving.prometheus.url"


class SeldonTraffic:
    """TrafficControl over the SeldonDeployments of a SeldonKubernetesServing."""

    def __init__(self, serving: SeldonKubernetesServing) -> None:
        self.serving = serving

    # -- helpers -------------------------------------------------------------------------------
    def _backend(self, environment: str) -> SeldonKubernetesBackend:
        return self.serving._backend(environment)

    def _read(self, backend: SeldonKubernetesBackend, environment: str) -> dict[str, Any]:
        document = backend.get()
        if document is None:
            raise ServingError(
                f"nothing is deployed to {environment} (no SeldonDeployment "
                f"'{backend.target.deployment_name}' in namespace '{backend.namespace}'); "
                "deploy a version first"
            )
        return document

    def _patch(
        self,
        backend: SeldonKubernetesBackend,
        environment: str,
        read: dict[str, Any],
        ops: list[dict[str, Any]],
        what: str,
    ) -> dict[str, Any]:
        """Send one guarded patch; a refusal is explained by what changed, if anything did."""
        try:
            return backend.patch(ops)
        except RuntimeError as exc:
            refused = exc
        name = backend.target.deployment_name
        now = backend.get()
        before = [p.get("name") for p in raw_predictors(read)]
        after = [p.get("name") for p in raw_predictors(now)] if now is not None else None
        if after != before:
            found = "deleted" if after is None else f"now has predictors {after}"
            raise ServingError(
                f"cannot {what} {environment}: SeldonDeployment '{name}' changed while the "
                f"change was prepared (it had predictors {before}, it {found}); nothing was "
                f"changed. Someone else is deploying to {environment}: check "
                f"`python run.py status {environment}` and re-run"
            )
        raise ServingError(f"cannot {what} {environment}: {refused}") from None

    def _wait(
        self, backend: SeldonKubernetesBackend, names: list[str], timeout: float | None = None
    ) -> dict[str, Any]:
        """Poll until the operator reports Available and every named predictor fully up."""
        serving, name = self.serving, backend.target.deployment_name
        limit = timeout or serving.ready_timeout
        deadline = serving._clock() + limit
        while True:
            document = backend.get()
            if document is None:
                raise ServingError(f"SeldonDeployment '{name}' was deleted while starting it")
            status = document.get("status") or {}
            state = str(status.get("state") or "Pending")
            description = str(status.get("description") or "")
            if state == FAILED:
                raise ServingError(
                    f"SeldonDeployment '{name}' in namespace '{backend.namespace}' failed: "
                    f"{description or 'no message from the operator'}"
                )
            present = {str(p.get("name")): p for p in raw_predictors(document)}
            missing = [n for n in names if n not in present]
            if missing:
                raise ServingError(
                    f"predictor(s) {', '.join(missing)} disappeared from SeldonDeployment "
                    f"'{name}' while waiting for them; someone else changed it"
                )
            counts = {n: predictor_replicas(document, present[n]) for n in names}
            pending = {n: c for n, c in counts.items() if c[0] == 0 or c[1] < c[0]}
            if state == AVAILABLE and not pending:
                return document
            if serving._clock() >= deadline:
                waiting = ", ".join(f"{n} {a}/{r} replicas" for n, (r, a) in pending.items())
                raise ServingError(
                    f"SeldonDeployment '{name}' in namespace '{backend.namespace}' was not "
                    f"Available after {limit:.0f} s: state {state}"
                    + (f" ({description})" if description else "")
                    + (f", waiting for {waiting}" if waiting else "")
                    + f"; inspect it with `{serving._logs_command(backend, 100)}` and "
                    f"`kubectl -n {backend.namespace} describe seldondeployment {name}`"
                )
            serving._sleep(serving.poll_interval)

    def _verify(
        self, verify: Callable[[str], None], url: str, environment: str, version: str
    ) -> None:
        try:
            verify(url)
        except requests.ConnectionError as exc:
            raise ServingError(
                f"cannot reach v{version}'s predictor in {environment} at {url} ({exc}): a "
                "predictor without traffic is only reachable at its Service, which resolves "
                "inside the cluster only; run the release from a pod in the cluster (a step "
                "of the gpu-k8s stack)"
            ) from None

    def _undo(
        self, backend: SeldonKubernetesBackend, environment: str, undo: list[dict[str, Any]]
    ) -> None:
        """Take a failed candidate out again; a failure here is logged, the first one raised."""
        try:
            backend.patch(undo)
            logger.warning("removed the failed candidate from %s again", environment)
        except RuntimeError as exc:
            logger.error("could not remove the failed candidate from %s: %s", environment, exc)

    # -- the TrafficControl interface ----------------------------------------------------------
    def start_variant(
        self,
        environment: str,
        model: ModelRef,
        verify: Callable[[str], None],
        ready_timeout: float | None = None,
    ) -> Predictor:
        """Add `model` as a predictor with traffic 0, wait for its pods, verify it at its Service.

        A version that already has a predictor is verified again rather than added twice. On
        any failure of a new one its predictor is taken out again, so the document is as it was.
        """
        backend = self._backend(environment)
        try:
            served = ServedModel(model.name, model.version, model.uri)
        except ValueError as exc:
            raise ServingError(f"cannot start v{model.version} in {environment}: {exc}") from None
        document = self._read(backend, environment)
        current = predictors(document)
        existing = next((p for p in current if p.version == served.model_version), None)
        if existing is not None:
            ready = self._wait(backend, [existing.name], ready_timeout)
            url = predictor_url(ready, backend.namespace, raw_predictors(ready)[existing.index])
            self._verify(verify, url, environment, existing.version)
            return existing
        if not any(p.role == STABLE for p in current):
            raise ServingError(f"{environment} has no stable version to start v{model.version} by")
        name = predictor_name(served.model_version)
        if any(p.name == name for p in current):
            raise ServingError(
                f"SeldonDeployment '{backend.target.deployment_name}' has a predictor '{name}' "
                f"that does not serve v{served.model_version}; remove it first"
            )
        ops, undo = add_patch(document, current, variant_predictor(backend.target, name, served))
        self._patch(backend, environment, document, ops, f"add v{served.model_version} to")
        try:
            ready = self._wait(backend, [name], ready_timeout)
            raw = next(p for p in raw_predictors(ready) if p.get("name") == name)
            self._verify(
                verify, predictor_url(ready, backend.namespace, raw), environment, model.version
            )
        except BaseException:
            self._undo(backend, environment, undo)
            raise
        return next(p for p in predictors(ready) if p.name == name)

    def set_traffic(
        self,
        environment: str,
        assignments: Mapping[str, tuple[str, int]],
        retire_after_seconds: float | None = None,
    ) -> dict[str, Any]:
        """Give each listed version its (role, weight) in one patch; unlisted ones get none.

        The table is checked before any call; afterwards every predictor must be available
        again (a shadow flag that changed restarts that predictor's pods). A `previous` version
        is kept warm for `retire_after_seconds`, then removed by the next status.
        """
        table = check_table(environment, assignments)
        backend = self._backend(environment)
        document = self._read(backend, environment)
        current = predictors(document)
        unknown = sorted(set(table) - {p.version for p in current})
        if unknown:
            running = ", ".join(f"v{p.version}" for p in current) or "none"
            raise ServingError(
                f"cannot route to {', '.join('v' + v for v in unknown)} in {environment}: not "
                f"running there (running: {running}); start it first; nothing was changed"
            )
        ops = traffic_patch(document, current, table, retire_after_seconds)
        self._patch(backend, environment, document, ops, "change the traffic of")
        return self._wait(backend, [p.name for p in current])

    def stop_variant(self, environment: str, version: str) -> bool:
        """Remove a version's predictor (never the stable one); False when it had none.

        A share of traffic it still had goes to the stable version in the same patch, since
        Seldon refuses non-shadow traffic that does not sum to 100.
        """
        backend = self._backend(environment)
        document = backend.get()
        current = predictors(document) if document is not None else []
        gone = next((p for p in current if p.version == str(version)), None)
        if document is None or gone is None:
            return False
        if gone.role == STABLE:
            raise ServingError(
                f"v{version} is the stable version of {environment}; route traffic to another "
                "version first"
            )
        self._patch(
            backend,
            environment,
            document,
            remove_patch(document, current, gone),
            f"stop v{version} in",
        )
        return True

    def status(self, environment: str) -> EndpointStatus:
        """Every predictor as a variant (role, share, replicas); warm versions past due removed."""
        backend = self._backend(environment)
        target = backend.target
        document = backend.get()
        if document is None:
            return EndpointStatus(
                environment,
                None,
                False,
                False,
                f"nothing deployed (no SeldonDeployment '{target.deployment_name}' in "
                f"namespace '{target.namespace}')",
            )
        document = self._reap(environment, document)
        summary = backend.summary(document)
        state = self.serving._state(environment, backend, document)
        running = summary["replicas_available"] > 0
        healthy = (
            summary["state"] == AVAILABLE
            and summary["replicas"] > 0
            and summary["replicas_available"] >= summary["replicas"]
        )
        detail = "healthy"
        if not healthy:
            detail = (
                f"{summary['state']}"
                + (f": {summary['description']}" if summary["description"] else "")
                + f" ({summary['replicas_available']}/{summary['replicas']} replicas available)"
            )
        started = state.started_at
        variants = tuple(variant_status(document, p, started) for p in predictors(document))
        return EndpointStatus(
            environment, state, running, healthy, detail, variants, None, rollout_record(document)
        )

    def _reap(self, environment: str, document: dict[str, Any]) -> dict[str, Any]:
        """Remove `previous` versions whose keep-warm time is over (as the local backend does)."""
        now = now_utc()
        expired = [
            p
            for p in predictors(document)
            if p.role == PREVIOUS and p.retire_at and p.retire_at <= now
        ]
        for variant in expired:
            try:
                self.stop_variant(environment, variant.version)
            except ServingError as exc:
                logger.warning("could not stop the warm v%s: %s", variant.version, exc)
        return (self._backend(environment).get() or document) if expired else document

    def write_rollout(self, environment: str, rollout: dict[str, Any] | None) -> None:
        """Record the rollout in progress as an annotation (a merge patch of the metadata)."""
        backend = self._backend(environment)
        value = None if rollout is None else json.dumps(rollout, sort_keys=True, default=str)
        try:
            backend.patch({"metadata": {"annotations": {ROLLOUT_ANNOTATION: value}}})
        except RuntimeError as exc:
            if backend.get() is None:
                logger.warning(
                    "nothing is deployed to %s: the rollout is not recorded", environment
                )
                return
            raise ServingError(f"cannot record the rollout of {environment}: {exc}") from None

    def read_rollout(self, environment: str) -> dict[str, Any] | None:
        """The rollout in progress, as last recorded; None when nothing is deployed."""
        backend = self._backend(environment)
        document = backend.get()
        if document is None:
            return None
        try:
            rollout = json_annotation(document, ROLLOUT_ANNOTATION)
        except ValueError as exc:
            raise ServingError(
                f"the rollout record of {environment} is damaged ({exc}); remove it with "
                f"`kubectl -n {backend.namespace} annotate seldondeployment "
                f"{backend.target.deployment_name} {ROLLOUT_ANNOTATION}-` and check the traffic"
            ) from None
        return rollout if isinstance(rollout, dict) else None

    def metrics_source(self, environment: str, model_name: str) -> PrometheusMetricsSource:
        """PromQL against the configured Prometheus, limited to this environment's pods."""
        settings = self.serving.prometheus
        if settings is None or not settings.url:
            raise ServingError(
                f"a rollout on Kubernetes judges each step on Prometheus, and none is "
                f"configured: set {PROMETHEUS_KEY} in the environment config (e.g. "
                "http://prometheus-operated.monitoring.svc:9090 from a pod in the cluster, or "
                "http://127.0.0.1:9090 through `kubectl port-forward` from the runner), or use "
                "rollout.strategy: direct"
            )
        backend = self._backend(environment)
        selectors = dict(settings.selectors)
        if settings.namespace_label:
            selectors[settings.namespace_label] = backend.namespace
        if settings.deployment_label:
            selectors[settings.deployment_label] = backend.target.deployment_name
        return PrometheusMetricsSource(
            settings.url,
            model_name,
            selectors,
            settings.timeout_seconds,
            scrape_interval=settings.scrape_interval_seconds,
        )

    def url(self, environment: str) -> str:
        """The environment's prediction URL through the ingress (what clients call)."""
        return external_url(self._backend(environment).target)

    def shadow_pairs(self, environment: str, since: str) -> list[dict[str, Any]]:
        """None on Kubernetes: Istio drops a shadow's answers, they are seen only in its metrics.

        The shadow report then compares the two versions on their metrics windows alone.
        """
        return []
