"""The one simulated part, an in-memory Kubernetes API; a kubeconfig and gpu-k8s site values."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml
from kubernetes.client.exceptions import ApiException


def api_error(status: int, reason: str, message: str) -> ApiException:
    exc = ApiException(status=status, reason=reason)
    exc.body = json.dumps(
        {
            "kind": "Status",
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": status,
        }
    )
    return exc


class FakeCustomObjectsApi:
    """Keeps objects per (namespace, plural, name), bumps resourceVersion, records every call."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.calls: list[tuple[Any, ...]] = []
        self.failures: dict[str, list[ApiException]] = {}
        self._version = 0

    def fail_next(self, method: str, exc: ApiException) -> None:
        self.failures.setdefault(method, []).append(exc)

    def _enter(self, method: str, *call: Any) -> None:
        self.calls.append((method, *call))
        if self.failures.get(method):
            raise self.failures[method].pop(0)

    def _not_found(self, name: str) -> ApiException:
        return api_error(404, "Not Found", f'seldondeployments "{name}" not found')

    def _stamp(self, body: dict[str, Any]) -> dict[str, Any]:
        self._version += 1
        stored = copy.deepcopy(body)
        stored["metadata"]["resourceVersion"] = str(self._version)
        return stored

    def get_namespaced_custom_object(self, group, version, namespace, plural, name):
        self._enter("get", group, version, namespace, plural, name)
        key = (namespace, plural, name)
        if key not in self.objects:
            raise self._not_found(name)
        return copy.deepcopy(self.objects[key])

    def create_namespaced_custom_object(self, group, version, namespace, plural, body):
        self._enter("create", group, version, namespace, plural, copy.deepcopy(body))
        key = (namespace, plural, body["metadata"]["name"])
        if key in self.objects:
            raise api_error(409, "Conflict", "already exists")
        self.objects[key] = self._stamp(body)
        return copy.deepcopy(self.objects[key])

    def replace_namespaced_custom_object(self, group, version, namespace, plural, name, body):
        self._enter("replace", group, version, namespace, plural, name, copy.deepcopy(body))
        key = (namespace, plural, name)
        if key not in self.objects:
            raise self._not_found(name)
        current = self.objects[key]["metadata"]["resourceVersion"]
        if body["metadata"].get("resourceVersion") != current:
            raise api_error(409, "Conflict", "the object has been modified")
        self.objects[key] = self._stamp(body)
        return copy.deepcopy(self.objects[key])

    def delete_namespaced_custom_object(self, group, version, namespace, plural, name):
        self._enter("delete", group, version, namespace, plural, name)
        key = (namespace, plural, name)
        if key not in self.objects:
            raise self._not_found(name)
        del self.objects[key]
        return {"kind": "Status", "status": "Success"}


def deployer_config(**overrides: Any):
    from zenml.integrations.seldon.flavors.seldon_model_deployer_flavor import (
        SeldonModelDeployerConfig,
    )

    values: dict[str, Any] = {
        "kubernetes_context": "gpu-cluster",
        "kubernetes_namespace": "ml-serving",
        "base_url": "http://seldon.example.com",
        "secret": None,
        "kubernetes_secret_name": "mlflow-s3-credentials",
    }
    values.update(overrides)
    return SeldonModelDeployerConfig(**values)


CONTEXT = "gpu-cluster"


# The dummy values docs/gpu-k8s.md shows for a dry run; tests/fixtures/k8s/*.yaml expect them.
GPU_K8S_ENV = {
    "GPU_K8S_CONTEXT": CONTEXT,
    "GPU_K8S_NAMESPACE": "ml-pipelines",
    "GPU_K8S_SERVICE_ACCOUNT": "zenml-runner",
    "GPU_K8S_ARTIFACT_PATH": "s3://ml-cicd-artifacts/zenml",
    "GPU_K8S_S3_ENDPOINT_URL": "http://minio.minio.svc.cluster.local:9000",
    "GPU_K8S_S3_ACCESS_KEY_ID": "dummy-access-key",
    "GPU_K8S_S3_SECRET_ACCESS_KEY": "dummy-secret-key",
    "GPU_K8S_REGISTRY": "registry.example.com/ml-cicd",
    "GPU_K8S_REGISTRY_SECRET": "registry-push",
    "GPU_K8S_MLFLOW_TRACKING_URI": "https://mlflow.example.com",
    "GPU_K8S_MLFLOW_USERNAME": "ci",
    "GPU_K8S_MLFLOW_PASSWORD": "dummy-password",
    "GPU_K8S_SERVING_NAMESPACE": "ml-serving",
    "GPU_K8S_SELDON_BASE_URL": "https://models.example.com",
    "GPU_K8S_SERVING_SECRET": "model-storage",
}


def write_kubeconfig(path: Path, context: str = CONTEXT) -> Path:
    """A kubeconfig with one context; nothing listens on its server address."""
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
                "users": [{"name": "u", "user": {"token": "dummy"}}],
                "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}],
                "current-context": context,
            }
        )
    )
    return path
