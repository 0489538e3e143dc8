"""The one simulated part, an in-memory Kubernetes API; a kubeconfig and gpu-k8s site values."""

from __future__ import annotations

import copy
import hashlib
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
        self.objects[key] = self._stamp(self._admit(copy.deepcopy(body)))
        self._written(key)
        return copy.deepcopy(self.objects[key])

    def replace_namespaced_custom_object(self, group, version, namespace, plural, name, body):
        self._enter("replace", group, version, namespace, plural, name, copy.deepcopy(body))
        key = (namespace, plural, name)
        if key not in self.objects:
            raise self._not_found(name)
        current = self.objects[key]["metadata"]["resourceVersion"]
        if body["metadata"].get("resourceVersion") != current:
            raise api_error(409, "Conflict", "the object has been modified")
        status = self.objects[key].get("status")  # .status is a subresource: a PUT keeps it
        self.objects[key] = self._stamp(self._admit(copy.deepcopy(body)))
        if status is not None and "status" not in body:
            self.objects[key]["status"] = status
        self._written(key)
        return copy.deepcopy(self.objects[key])

    def delete_namespaced_custom_object(self, group, version, namespace, plural, name):
        self._enter("delete", group, version, namespace, plural, name)
        key = (namespace, plural, name)
        if key not in self.objects:
            raise self._not_found(name)
        del self.objects[key]
        return {"kind": "Status", "status": "Success"}

    def patch_namespaced_custom_object(self, group, version, namespace, plural, name, body):
        """A list is a JSON patch (RFC 6902), all or nothing; a mapping a merge patch (RFC 7386)."""
        self._enter("patch", group, version, namespace, plural, name, copy.deepcopy(body))
        key = (namespace, plural, name)
        if key not in self.objects:
            raise self._not_found(name)
        current = copy.deepcopy(self.objects[key])
        patched = (
            json_patch(current, body) if isinstance(body, list) else merge_patch(current, body)
        )
        patched.pop("status", None)  # .status is a subresource: a patch of the object keeps it
        if "status" in current:
            patched["status"] = current["status"]
        self.objects[key] = self._stamp(self._admit(patched))
        self._written(key)
        return copy.deepcopy(self.objects[key])

    def _admit(self, document: dict[str, Any]) -> dict[str, Any]:
        """What admission makes of a written document (nothing here; see SeldonOperatorApi)."""
        return document

    def _written(self, key: tuple[str, str, str]) -> None:
        """Called after every successful write (the operator's cue in SeldonOperatorApi)."""


def _unprocessable(message: str) -> ApiException:
    return api_error(422, "Unprocessable Entity", message)


def _tokens(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise api_error(400, "Bad Request", f"JSON pointer {path!r} does not start with '/'")
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def _parent(document: Any, path: str, op: str) -> tuple[Any, str]:
    """The container holding the pointer's last token (422 when a step is missing)."""
    tokens = _tokens(path)
    if not tokens:
        raise _unprocessable(f"{op} operation does not apply: the whole document")
    node = document
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise _unprocessable(f"{op} operation does not apply: doc is missing path: {path}")
    return node, tokens[-1]


def _index(node: list[Any], token: str, path: str, op: str, append: bool = False) -> int:
    if append and token == "-":
        return len(node)
    limit = len(node) if append else len(node) - 1
    if not token.isdigit() or int(token) > limit:
        raise _unprocessable(f"{op} operation does not apply: doc is missing key: {path}")
    return int(token)


def json_patch(document: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    """Apply test/add/replace/remove as the API server does: the first failing op refuses all."""
    result = copy.deepcopy(document)
    for op in ops:
        kind, path = str(op.get("op")), str(op.get("path", ""))
        if kind not in ("test", "add", "replace", "remove"):
            raise api_error(400, "Bad Request", f"unsupported JSON patch op {kind!r}")
        node, token = _parent(result, path, kind)
        if isinstance(node, list):
            index: Any = _index(node, token, path, kind, append=kind == "add")
        elif isinstance(node, dict) and (token in node or kind == "add"):
            index = token
        elif kind == "test":
            raise _unprocessable(f"testing value {path} failed: test failed")
        else:
            raise _unprocessable(f"{kind} operation does not apply: doc is missing key: {path}")
        if kind == "test":
            if node[index] != op.get("value"):
                raise _unprocessable(f"testing value {path} failed: test failed")
        elif kind == "add" and isinstance(node, list):
            node.insert(index, copy.deepcopy(op["value"]))
        elif kind in ("add", "replace"):
            node[index] = copy.deepcopy(op["value"])
        else:
            del node[index]
    return result


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: mappings merge key by key, null removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _seldon_name(name: str) -> str:
    """Seldon Core v1: a derived name over 63 characters becomes `seldon-<md5>`."""
    return (
        name
        if len(name) <= 63
        else "seldon-" + hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()
    )


def _version_of(predictor: dict[str, Any]) -> str:
    params = {p["name"]: p["value"] for p in predictor["graph"].get("parameters", [])}
    return str(params.get("model_version", predictor["name"]))


class SeldonOperatorApi(FakeCustomObjectsApi):
    """The API server with Seldon Core v1's webhooks in front and a small operator behind.

    Admission, on every create, replace and patch: the defaulting webhook drops `traffic: 0`
    and `shadow: false` (omitempty fields of the Go type), then the validating webhook refuses
    what Seldon's checkTraffic refuses (HTTP 422). The operator: each predictor's Deployment
    (`<sdep>-<predictor>-0-model`) becomes available `ready_after` reads after it was created or
    its pod template changed (`traffic` and `replicas` are not in the template; labels,
    annotations and `shadow` are); a version in `failing` never comes up and turns the state
    Failed. `history` holds {version: traffic, or "shadow"} after every write.
    """

    def __init__(self, ready_after: int = 2) -> None:
        super().__init__()
        self.ready_after = ready_after
        self.failing: set[str] = set()
        self.history: list[dict[str, int | str]] = []
        self._pending: dict[str, int] = {}  # Deployment name -> reads until available
        self._templates: dict[str, str] = {}

    def _admit(self, document: dict[str, Any]) -> dict[str, Any]:
        predictors = document.get("spec", {}).get("predictors") or []
        for predictor in predictors:
            if predictor.get("traffic") == 0:
                del predictor["traffic"]
            if predictor.get("shadow") is False:
                del predictor["shadow"]
        name = document["metadata"]["name"]

        def deny(predictor: str, why: str) -> ApiException:
            return api_error(
                422,
                "Unprocessable Entity",
                f'admission webhook "v1.vseldondeployment.kb.io" denied the request: '
                f'SeldonDeployment "{name}" is invalid: spec: Invalid value: "{predictor}": {why}',
            )

        if not predictors:
            raise deny("", "Graph contains no predictors")
        names = [p["name"] for p in predictors]
        if len(set(names)) != len(names):
            raise deny(names[0], "Duplicate predictor name")
        shadows = [p for p in predictors if p.get("shadow")]
        if len(shadows) > 1:
            raise deny(shadows[1]["name"], "Multiple shadows are not allowed")
        if len(predictors) == 1 and shadows:
            raise deny(names[0], "Shadow can not exist as only predictor")
        live = [p for p in predictors if not p.get("shadow")]
        total = sum(int(p.get("traffic", 0)) for p in live)
        if total != 100 and len(live) > 1:
            raise deny(names[0], "Traffic must sum to 100 for multiple predictors")
        if 0 < total < 100 and len(predictors) == 1:
            raise deny(names[0], "Traffic must sum be 100 for a single predictor when set")
        return document

    def _deployments(self, document: dict[str, Any]) -> dict[str, dict[str, Any]]:
        sdep = document["metadata"]["name"]
        deployments = {}
        for predictor in document["spec"]["predictors"]:
            # the operator joins the pod's container names: model + log-shipper
            containers = predictor["componentSpecs"][0]["spec"]["containers"]
            names = "-".join(c["name"] for c in containers)
            deployments[_seldon_name(f"{sdep}-{predictor['name']}-0-{names}")] = predictor
        return deployments

    def _written(self, key: tuple[str, str, str]) -> None:
        document = self.objects[key]
        current = self._deployments(document)
        for deployment, predictor in current.items():
            template = {k: v for k, v in predictor.items() if k not in ("traffic", "replicas")}
            fingerprint = json.dumps(template, sort_keys=True)
            if self._templates.get(deployment) != fingerprint:
                self._templates[deployment] = fingerprint
                self._pending[deployment] = self.ready_after
        for gone in set(self._templates) - set(current):
            self._templates.pop(gone)
            self._pending.pop(gone, None)
        self.history.append(
            {
                _version_of(p): "shadow" if p.get("shadow") else int(p.get("traffic", 0))
                for p in document["spec"]["predictors"]
            }
        )
        self._report(key)

    def _report(self, key: tuple[str, str, str]) -> None:
        """Write `.status` as the operator does, from the pods' progress."""
        document = self.objects[key]
        namespace, sdep = key[0], key[2]
        deployments: dict[str, Any] = {}
        failed = []
        for deployment, predictor in self._deployments(document).items():
            replicas = int(predictor.get("replicas", 1))
            broken = _version_of(predictor) in self.failing
            ready = self._pending.get(deployment, 0) <= 0 and not broken
            if broken and self._pending.get(deployment, 0) <= 0:
                failed.append(deployment)
            deployments[deployment] = {
                "replicas": replicas,
                "availableReplicas": replicas if ready else 0,
            }
        waiting = any(item["availableReplicas"] == 0 for item in deployments.values())
        services = {
            _seldon_name(f"{sdep}-{p['name']}"): {
                "svcName": _seldon_name(f"{sdep}-{p['name']}"),
                "httpEndpoint": f"{_seldon_name(sdep + '-' + p['name'])}.{namespace}:8000",
            }
            for p in document["spec"]["predictors"]
        }
        document["status"] = {
            "state": "Failed" if failed else "Creating" if waiting else "Available",
            "description": f"Deployment {failed[0]} is not progressing" if failed else "",
            "deploymentStatus": deployments,
            "serviceStatus": services,
        }

    def get_namespaced_custom_object(self, group, version, namespace, plural, name):
        key = (namespace, plural, name)
        if key in self.objects:  # time passes between reads: pods come up
            self._pending = {d: n - 1 for d, n in self._pending.items()}
            self._report(key)
        return super().get_namespaced_custom_object(group, version, namespace, plural, name)


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
    "GPU_K8S_SLACK_TOKEN": "xoxb-dummy-token",
    "GPU_K8S_SLACK_CHANNEL_ID": "C0DUMMY",
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
