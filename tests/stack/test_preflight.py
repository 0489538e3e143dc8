"""`run.py preflight`: each missing piece fails with a message that names it and the fix.

MLflow and S3 are real servers on 127.0.0.1 (mlflow server, moto); the Kubernetes API is the
one simulated part (a stand-in answering like the API server, including 404 refusals).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from mlcicd.cli import main as run
from mlcicd.config import load_config
from mlcicd.stack.loader import load_stack_spec
from mlcicd.stack.preflight import (
    check_artifact_store,
    check_mlflow,
    check_zenml_server,
    kubernetes_checks,
)


def test_on_a_machine_without_a_cluster_every_piece_fails_and_is_named(gpu_k8s_env, capsys):
    assert run.main(["--env", "staging", "preflight"]) == 1
    output = capsys.readouterr()
    for checked in ("ZenML server", "MLflow tracking server", "artifact store (S3)",
                    "container registry", "Kubernetes API"):  # fmt: skip
        assert f"FAIL  {checked}: " in output.out, checked
    assert "ZENML_STORE_URL is not set" in output.out
    assert "GPU_K8S_REGISTRY_USERNAME / GPU_K8S_REGISTRY_PASSWORD are not set" in output.out
    assert "namespaces, Secrets, the Seldon CRD and gateway, GPU nodes not checked" in output.out
    assert "before a run builds any image" in output.err
    assert "Traceback" not in output.out + output.err


def test_an_unreachable_zenml_server_is_named(monkeypatch):
    from tests.helpers.session import free_port

    monkeypatch.setenv("ZENML_STORE_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("ZENML_STORE_API_KEY", "key")
    check = check_zenml_server()
    assert not check.ok and "cannot be reached" in check.detail


@pytest.mark.slow  # starts a real mlflow server (tens of seconds)
def test_a_real_mlflow_server_and_bucket_pass(gpu_k8s_env, monkeypatch, tmp_path: Path):
    from tests.helpers.mlflow_server import mlflow_server
    from tests.helpers.s3 import ACCESS_KEY, SECRET_KEY, create_bucket, s3_server

    spec = load_stack_spec("gpu-k8s")
    # moto keeps its buckets per process, across servers: a name no other test created
    bucket = f"preflight-{uuid.uuid4().hex[:12]}"
    spec["components"]["artifact_store"][0]["configuration"]["path"] = f"s3://{bucket}/zenml"
    with mlflow_server(tmp_path / "mlflow") as url, s3_server() as endpoint:
        spec["components"]["experiment_tracker"][0]["configuration"]["tracking_uri"] = url
        monkeypatch.setenv("GPU_K8S_S3_ENDPOINT_URL", endpoint)
        monkeypatch.setenv("GPU_K8S_S3_ACCESS_KEY_ID", ACCESS_KEY)
        monkeypatch.setenv("GPU_K8S_S3_SECRET_ACCESS_KEY", SECRET_KEY)
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        missing = check_artifact_store(spec)
        assert not missing.ok and f"{bucket} refused" in missing.detail
        create_bucket(endpoint, bucket)
        assert check_artifact_store(spec).ok
        assert check_mlflow(spec).ok


class _KubernetesApi:
    """The calls preflight makes, answered from what this cluster has (404 otherwise)."""

    def __init__(self, objects: set[tuple[str, ...]], nodes: list[Any]) -> None:
        self.objects = objects
        self.nodes = nodes

    def _find(self, *key: str) -> dict[str, Any]:
        if key not in self.objects:
            raise ApiException(status=404, reason="Not Found")
        return {}

    def get_api_resources(self, **_: Any) -> dict[str, Any]:
        return {}

    def read_namespace(self, name: str, **_: Any) -> dict[str, Any]:
        return self._find("namespace", name)

    def read_namespaced_secret(self, name: str, namespace: str, **_: Any) -> dict[str, Any]:
        return self._find("secret", namespace, name)

    def read_custom_resource_definition(self, name: str, **_: Any) -> dict[str, Any]:
        return self._find("crd", name)

    def get_namespaced_custom_object(self, group, version, namespace, plural, name, **_):
        return self._find(plural, namespace, name)

    def list_node(self, label_selector: str, **_: Any) -> Any:
        wanted = dict(item.split("=", 1) for item in label_selector.split(","))
        return SimpleNamespace(
            items=[n for n in self.nodes if wanted.items() <= n.metadata.labels.items()]
        )


def _node(name: str, driver: str, gpus: str = "1") -> Any:
    labels = {"nvidia.com/gpu.present": "true", "nvidia.com/cuda.driver.major": driver}
    return SimpleNamespace(
        metadata=SimpleNamespace(name=name, labels=labels),
        status=SimpleNamespace(allocatable={"nvidia.com/gpu": gpus}),
    )


def _complete_cluster() -> set[tuple[str, ...]]:
    objects: set[tuple[str, ...]] = {("namespace", ns) for ns in ("ml-pipelines", "ml-serving-staging",
                                            "ml-serving-production")}  # fmt: skip
    objects |= {("secret", "ml-pipelines", s) for s in ("registry-push", "ml-cicd-release",
                                                        "ml-cicd-registry")}  # fmt: skip
    for ns in ("ml-serving-staging", "ml-serving-production"):
        objects |= {("secret", ns, "ml-cicd-registry"), ("secret", ns, "model-storage")}
    objects |= {("crd", "seldondeployments.machinelearning.seldon.io"),
                ("gateways", "istio-system", "seldon-gateway")}  # fmt: skip
    return objects


def _run(objects: set[tuple[str, ...]], nodes: list[Any]) -> dict[str, Any]:
    config = load_config("staging")[0]
    api = _KubernetesApi(objects, nodes)
    checks = kubernetes_checks(config, load_stack_spec("gpu-k8s"), api, api, api)
    return {check.name: check for check in checks}


def test_a_complete_cluster_passes(gpu_k8s_env):
    checks = _run(_complete_cluster(), [_node("gpu-1", "580")])
    assert all(check.ok for check in checks.values()), checks
    assert "gpu-1" in checks["GPU nodes"].detail
    assert len(checks) == 1 + 3 + 7 + 3  # API, namespaces, Secrets, CRD + gateway + GPU nodes


@pytest.mark.parametrize(
    ("removed", "check", "message"),
    [
        (("secret", "ml-serving-production", "model-storage"),
         "Secret ml-serving-production/model-storage", "run `python run.py cluster-setup --apply`"),
        (("crd", "seldondeployments.machinelearning.seldon.io"), "Seldon Core v1 CRD", "HTTP 404"),
        (("gateways", "istio-system", "seldon-gateway"), "Seldon gateway", "cluster-setup"),
        (("namespace", "ml-serving-staging"), "namespace ml-serving-staging", "HTTP 404"),
    ],
)  # fmt: skip
def test_each_missing_piece_is_named(gpu_k8s_env, removed, check, message):
    checks = _run(_complete_cluster() - {removed}, [_node("gpu-1", "580")])
    assert [name for name, c in checks.items() if not c.ok] == [check]
    assert message in checks[check].detail


def test_gpu_nodes_without_labels_or_with_an_old_driver_are_refused(gpu_k8s_env):
    checks = _run(_complete_cluster(), [])
    assert "no node has the labels nvidia.com/gpu.present=true" in checks["GPU nodes"].detail
    checks = _run(_complete_cluster(), [_node("gpu-old", "550")])
    assert "older than 580 (CUDA 13): gpu-old (driver 550)" in checks["GPU nodes"].detail
    checks = _run(_complete_cluster(), [_node("gpu-busy", "580", gpus="0")])
    assert "no labelled node has 1 allocatable nvidia.com/gpu" in checks["GPU nodes"].detail
