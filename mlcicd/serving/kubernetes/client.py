"""Apply, inspect and delete SeldonDeployments through the Kubernetes API (gpu-k8s stack).

The API object is injected: in production it is a `kubernetes.client.CustomObjectsApi`, in tests
an in-memory fake, since no cluster is available to CI. Every refusal of the API server is turned
into a RuntimeError that names the resource, the namespace and the server's reason, so a pipeline
log shows "forbidden" rather than a urllib3 traceback.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from mlcicd.serving.kubernetes.json_patch_api import JsonPatchingApi
from mlcicd.serving.kubernetes.manifests import API_GROUP, API_VERSION, KIND, LABEL_PREFIX, PLURAL
from mlcicd.serving.kubernetes.targets import (
    DEFAULT_RESOURCES,
    RequestLogSink,
    SeldonTarget,
    external_url,
)
from mlcicd.serving.kubernetes.variants import stable_predictor
from mlcicd.serving.server.protocol import DEFAULT_MAX_ROWS, DEFAULT_RUNTIME

if TYPE_CHECKING:
    from zenml.integrations.seldon.flavors.seldon_model_deployer_flavor import (
        SeldonModelDeployerConfig,
    )

logger = logging.getLogger(__name__)

_ATTEMPTS = 2
"""A 409 means someone else wrote in between: re-read once, then give up loudly."""

_HINTS = {
    401: "the Kubernetes credentials were rejected; check the kubeconfig context",
    403: (
        "the identity in use lacks RBAC permission on seldondeployments.machinelearning.seldon.io"
        " in this namespace (get, create, update, patch, delete)"
    ),
    404: "is Seldon Core v1 installed (CRD seldondeployments.machinelearning.seldon.io)?",
    409: "the resource changed concurrently; re-run the deployment",
    422: "the Seldon admission webhook or the CRD schema rejected the document",
}


class CustomObjectsApiLike(Protocol):
    """The five calls of `kubernetes.client.CustomObjectsApi` this backend needs."""

    def get_namespaced_custom_object(
        self, group: str, version: str, namespace: str, plural: str, name: str
    ) -> Any:
        """Read one object; ApiException(status=404) when it does not exist."""

    def create_namespaced_custom_object(
        self, group: str, version: str, namespace: str, plural: str, body: Any
    ) -> Any:
        """Create; ApiException(status=409) when it already exists."""

    def replace_namespaced_custom_object(
        self, group: str, version: str, namespace: str, plural: str, name: str, body: Any
    ) -> Any:
        """Replace whole; ApiException(status=409) when body's resourceVersion is stale."""

    def delete_namespaced_custom_object(
        self, group: str, version: str, namespace: str, plural: str, name: str
    ) -> Any:
        """Delete; ApiException(status=404) when it does not exist."""

    def patch_namespaced_custom_object(
        self, group: str, version: str, namespace: str, plural: str, name: str, body: Any
    ) -> Any:
        """A list body is a JSON patch (RFC 6902), a mapping a merge patch (RFC 7386).

        ApiException(status=404) when it does not exist, 422 when an op does not apply (a
        failed `test`, a missing path) or the admission webhook refuses the result.
        """


def _api_message(exc: ApiException) -> str:
    """The API server's own sentence (a Status object's `message`), not the raw body."""
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str) and body:
        try:
            parsed = json.loads(body)
        except ValueError:
            return body.strip()[:500]
        if isinstance(parsed, dict) and parsed.get("message"):
            return str(parsed["message"])
    return ""


def _raise_api_error(action: str, name: str, namespace: str, exc: ApiException) -> NoReturn:
    status = exc.status
    detail = _api_message(exc)
    message = (
        f"Kubernetes API refused to {action} {KIND} '{name}' in namespace '{namespace}': "
        f"HTTP {status} {exc.reason or ''}".rstrip()
    )
    if detail:
        message += f": {detail}"
    hint = _HINTS.get(status or 0)
    if hint:
        message += f" ({hint})"
    raise RuntimeError(message) from None


def _raise_unreachable(action: str, name: str, namespace: str, exc: Exception) -> NoReturn:
    raise RuntimeError(
        f"could not reach the Kubernetes API to {action} {KIND} '{name}' in namespace "
        f"'{namespace}': {exc}"
    ) from None


def _in_pod() -> bool:
    """Running in a pod: the API server's address and this pod's service-account token exist."""
    from kubernetes.config import incluster_config

    token = Path(incluster_config.SERVICE_TOKEN_FILENAME)
    return bool(os.environ.get(incluster_config.SERVICE_HOST_ENV_NAME)) and token.is_file()


def _kubeconfig_has(context: str) -> bool:
    from kubernetes.config import list_kube_config_contexts
    from kubernetes.config.config_exception import ConfigException

    try:
        contexts, _ = list_kube_config_contexts()
    except (ConfigException, OSError):
        return False
    return any(item.get("name") == context for item in contexts or [])


def _load_kube_config(context: str | None) -> None:
    """In a pod, its service account; elsewhere the named kubeconfig context (or the current).

    The stack names a context for the runner, but step pods (deploy, promote, rollback) have no
    kubeconfig: they use the pod's credentials unless a kubeconfig there defines that context.
    """
    from kubernetes import config as k8s_config
    from kubernetes.config.config_exception import ConfigException

    in_pod = _in_pod() and not (context and _kubeconfig_has(context))
    try:
        if in_pod:
            k8s_config.load_incluster_config()
        else:
            k8s_config.load_kube_config(context=context)
    except (ConfigException, OSError) as exc:
        where = (
            "this pod's service account"
            if in_pod
            else (f"context '{context}'" if context else "the current context")
        )
        raise RuntimeError(
            f"could not load the Kubernetes configuration for {where} (KUBECONFIG="
            f"{os.environ.get('KUBECONFIG', '~/.kube/config')}): {exc}"
        ) from None


class SeldonKubernetesBackend:
    """Idempotent writes of whole SeldonDeployment documents into one namespace."""

    def __init__(self, api: CustomObjectsApiLike, target: SeldonTarget) -> None:
        self.api = api
        self.target = target

    @property
    def namespace(self) -> str:
        """All resources of this backend live in the target's namespace."""
        return self.target.namespace

    @classmethod
    def from_zenml_deployer_config(
        cls,
        config: SeldonModelDeployerConfig,
        image: str,
        mlflow_tracking_uri: str,
        *,
        deployment_name: str,
        api: CustomObjectsApiLike | None = None,
        namespace: str | None = None,
        service_account: str | None = None,
        resources: dict[str, dict[str, str]] | None = None,
        replicas: int = 1,
        max_rows: int = DEFAULT_MAX_ROWS,
        runtime: str = DEFAULT_RUNTIME,
        threads: int = 1,
        request_log_sink: RequestLogSink | None = None,
        image_pull_secrets: tuple[str, ...] = (),
        pod_security_context: dict[str, Any] | None = None,
    ) -> SeldonKubernetesBackend:
        """Reuse the stack's Seldon model deployer settings, so gpu-k8s has one source of truth.

        The kubeconfig is only read when no API object is given (tests and service connectors
        pass their own).
        """
        namespace = namespace or config.kubernetes_namespace
        if not namespace:
            raise ValueError(
                "the Seldon model deployer has no kubernetes_namespace: set it on the stack "
                "component (or kubernetes.serving.environments.<env>.namespace); this backend "
                "does not guess a namespace"
            )
        if config.secret and not config.kubernetes_secret_name:
            raise ValueError(
                f"the Seldon model deployer names the ZenML secret '{config.secret}' but no "
                "kubernetes_secret_name: this backend passes storage credentials to the model "
                "container from an existing Kubernetes Secret (envFrom), so create one and set "
                "kubernetes_secret_name"
            )
        target = SeldonTarget(
            namespace=namespace,
            deployment_name=deployment_name,
            image=image,
            mlflow_tracking_uri=mlflow_tracking_uri,
            base_url=config.base_url,
            storage_secret_name=config.kubernetes_secret_name,
            service_account=service_account,
            resources=copy.deepcopy(DEFAULT_RESOURCES if resources is None else resources),
            replicas=replicas,
            max_rows=max_rows,
            runtime=runtime,
            threads=threads,
            request_log_sink=request_log_sink,
            image_pull_secrets=tuple(image_pull_secrets),
        )
        if pod_security_context is not None:
            target = dataclasses.replace(target, pod_security_context=pod_security_context)
        if api is None:
            _load_kube_config(config.kubernetes_context)
            api = JsonPatchingApi()
        return cls(api, target)

    def _get(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(
                self.api.get_namespaced_custom_object(
                    API_GROUP, API_VERSION, self.namespace, PLURAL, name
                )
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            _raise_api_error("read", name, self.namespace, exc)
        except HTTPError as exc:
            _raise_unreachable("read", name, self.namespace, exc)

    def get(self, name: str | None = None) -> dict[str, Any] | None:
        """The stored document (with `.status`), or None when it does not exist."""
        return self._get(name or self.target.deployment_name)

    def _check(self, resource: dict[str, Any]) -> str:
        if resource.get("kind") != KIND or resource.get("apiVersion") != (
            f"{API_GROUP}/{API_VERSION}"
        ):
            raise ValueError(
                f"expected a {API_GROUP}/{API_VERSION} {KIND}, got "
                f"{resource.get('apiVersion')}/{resource.get('kind')}"
            )
        metadata = resource.get("metadata") or {}
        name = metadata.get("name")
        if not name:
            raise ValueError(f"the {KIND} has no metadata.name")
        namespace = metadata.get("namespace", self.namespace)
        if namespace != self.namespace:
            raise ValueError(
                f"{KIND} '{name}' is for namespace '{namespace}' but this backend writes to "
                f"'{self.namespace}'"
            )
        return str(name)

    def apply(self, resource: dict[str, Any]) -> dict[str, Any]:
        """Create the resource, or replace it whole (removing a finished canary's predictor).

        Replace carries the fetched resourceVersion, so a concurrent writer causes a 409 and a
        retry on fresh state instead of a lost update.
        """
        name = self._check(resource)
        body = copy.deepcopy(resource)
        body["metadata"]["namespace"] = self.namespace
        for attempt in range(1, _ATTEMPTS + 1):
            existing = self._get(name)
            try:
                if existing is None:
                    body["metadata"].pop("resourceVersion", None)
                    created = self.api.create_namespaced_custom_object(
                        API_GROUP, API_VERSION, self.namespace, PLURAL, body
                    )
                    logger.info("created %s %s/%s", KIND, self.namespace, name)
                    return dict(created)
                version = (existing.get("metadata") or {}).get("resourceVersion")
                if version is not None:
                    body["metadata"]["resourceVersion"] = version
                replaced = self.api.replace_namespaced_custom_object(
                    API_GROUP, API_VERSION, self.namespace, PLURAL, name, body
                )
                logger.info("replaced %s %s/%s", KIND, self.namespace, name)
                return dict(replaced)
            except ApiException as exc:
                action = "create" if existing is None else "replace"
                if exc.status == 409 and attempt < _ATTEMPTS:
                    logger.warning(
                        "%s of %s/%s conflicted; re-reading", action, self.namespace, name
                    )
                    continue
                _raise_api_error(action, name, self.namespace, exc)
            except HTTPError as exc:
                _raise_unreachable("apply", name, self.namespace, exc)
        raise AssertionError("unreachable")  # pragma: no cover

    def patch(self, body: list[dict[str, Any]] | dict[str, Any]) -> dict[str, Any]:
        """One PATCH of the target's deployment: a JSON patch (list of ops) or a merge patch.

        No retry: a JSON patch guards itself with `test` ops, so a refusal means the document
        changed (or the webhook refused the result) and the caller must re-read it.
        """
        name = self.target.deployment_name
        try:
            patched = self.api.patch_namespaced_custom_object(
                API_GROUP, API_VERSION, self.namespace, PLURAL, name, body
            )
        except ApiException as exc:
            _raise_api_error("patch", name, self.namespace, exc)
        except HTTPError as exc:
            _raise_unreachable("patch", name, self.namespace, exc)
        logger.info("patched %s %s/%s", KIND, self.namespace, name)
        return dict(patched)

    def status(self, name: str | None = None) -> dict[str, Any]:
        """The operator's `.status`, summed over its Deployments; 'absent' if missing."""
        name = name or self.target.deployment_name
        return self.summary(self._get(name), name)

    def summary(self, resource: dict[str, Any] | None, name: str | None = None) -> dict[str, Any]:
        """`status()` of a document already read (one GET serves the status and its variants)."""
        name = name or self.target.deployment_name
        url = external_url(dataclasses.replace(self.target, deployment_name=name))
        if resource is None:
            return {
                "name": name,
                "namespace": self.namespace,
                "state": "absent",
                "description": "",
                "replicas": 0,
                "replicas_available": 0,
                "predictors": [],
                "versions": {},
                "stable_version": None,
                "url": url,
            }
        status = resource.get("status") or {}
        # Seldon Core v1 reports one entry per Kubernetes Deployment it runs, keyed by its name
        # (`<deployment>-<predictor>-<index>-<containers>`): `.status.deploymentStatus`.
        deployments = status.get("deploymentStatus") or {}
        predictors = [
            {
                "name": str(item.get("name") or key),
                "status": str(item.get("status") or ""),
                "replicas": int(item.get("replicas", 0) or 0),
                "replicas_available": int(item.get("availableReplicas", 0) or 0),
            }
            for key, item in sorted(deployments.items())
            if isinstance(item, dict)
        ]
        versions = {
            str(p.get("name")): (p.get("labels") or {}).get(f"{LABEL_PREFIX}/model-version")
            for p in (resource.get("spec") or {}).get("predictors") or []
        }
        stable = stable_predictor(resource)
        return {
            "name": name,
            "namespace": self.namespace,
            # The operator writes no state before its first reconcile.
            "state": str(status.get("state") or "Pending"),
            "description": str(status.get("description") or ""),
            "replicas": sum(p["replicas"] for p in predictors),
            "replicas_available": sum(p["replicas_available"] for p in predictors),
            "predictors": predictors,
            "versions": versions,
            "stable_version": stable.version if stable is not None else None,
            "url": url,
        }

    def delete(self, name: str | None = None) -> bool:
        """Remove the deployment; True if it existed. Deleting twice is not an error."""
        name = name or self.target.deployment_name
        try:
            self.api.delete_namespaced_custom_object(
                API_GROUP, API_VERSION, self.namespace, PLURAL, name
            )
        except ApiException as exc:
            if exc.status == 404:
                return False
            _raise_api_error("delete", name, self.namespace, exc)
        except HTTPError as exc:
            _raise_unreachable("delete", name, self.namespace, exc)
        logger.info("deleted %s %s/%s", KIND, self.namespace, name)
        return True
