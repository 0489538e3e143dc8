"""The gpu-k8s Seldon backend without a cluster: golden documents, validation, the API calls.

The Kubernetes API is the only thing simulated (an in-memory CustomObjectsApi below); the
documents, the ZenML deployer config and seldon-core's entry point are the real ones.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlcicd.serving.kubernetes.client import SeldonKubernetesBackend
from mlcicd.serving.kubernetes.manifests import (
    API_GROUP,
    API_VERSION,
    PLURAL,
    canary,
    shadow,
    single_predictor,
)
from mlcicd.serving.kubernetes.targets import (
    SeldonTarget,
    ServedModel,
    dns_label,
    external_url,
    label_value,
)
from mlcicd.serving.server.protocol import LIVENESS_PATH, MODEL_SERVER_CLASS, READINESS_PATH
from tests.helpers.kubernetes import FakeCustomObjectsApi, api_error, deployer_config

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "seldon"
DOCKERFILE = REPO_ROOT / "stacks" / "seldon" / "Dockerfile"
MICROSERVICE = Path(sys.executable).parent / "seldon-core-microservice"

V3 = ServedModel("adult-income-classifier", "3", "models:/adult-income-classifier/3")
V4 = ServedModel("adult-income-classifier", "4", "models:/adult-income-classifier/4")


def make_target(**overrides: Any) -> SeldonTarget:
    values: dict[str, Any] = {
        "namespace": "ml-serving",
        "deployment_name": "adult-income",
        "image": "registry.example.com/ml-cicd/seldon-server:1.4.0",
        "mlflow_tracking_uri": "http://mlflow.mlflow.svc.cluster.local:5000",
        "base_url": "http://seldon.example.com",
        "storage_secret_name": "mlflow-s3-credentials",
        "service_account": "model-server",
        "replicas": 2,
    }
    values.update(overrides)
    return SeldonTarget(**values)


def golden(name: str) -> dict[str, Any]:
    return yaml.safe_load((FIXTURES / f"{name}.yaml").read_text())


# --------------------------------------------------------------------------------------------
# (1) golden documents


@pytest.mark.parametrize(
    ("fixture", "build"),
    [
        ("single", lambda t: single_predictor(t, V3)),
        ("canary", lambda t: canary(t, V3, V4, 10, candidate_replicas=1)),
        ("shadow", lambda t: shadow(t, V3, V4, candidate_replicas=1)),
    ],
)
def test_documents_match_the_golden_files(fixture, build):
    document = build(make_target())
    assert document == golden(fixture)
    # What goes to the API server must survive JSON (no tuples, no non-string label values).
    assert json.loads(json.dumps(document)) == document


@pytest.mark.parametrize(
    "document",
    [
        single_predictor(make_target(), V3),
        canary(make_target(), V3, V4, 25),
        shadow(make_target(), V3, V4),
    ],
    ids=["single", "canary", "shadow"],
)
def test_documents_follow_seldon_v1_rules(document):
    predictors = document["spec"]["predictors"]
    live = [p for p in predictors if not p.get("shadow")]
    assert sum(p["traffic"] for p in live) == 100
    assert len({p["name"] for p in predictors}) == len(predictors)
    for predictor in predictors:
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", predictor["name"])
        assert predictor["labels"]["version"] == predictor["name"]
        graph = predictor["graph"]
        (container,) = predictor["componentSpecs"][0]["spec"]["containers"]
        assert container["name"] == graph["name"] == "model"
        assert graph["type"] == "MODEL"
        params = {p["name"]: p for p in graph["parameters"]}
        assert set(params) == {
            "model_uri",
            "model_name",
            "model_version",
            "request_log",
            "max_rows",
            "runtime",
            "threads",
        }
        assert all(isinstance(p["value"], str) for p in params.values())
        assert params["max_rows"]["type"] == "INT"
        assert params["runtime"] == {"name": "runtime", "value": "onnx", "type": "STRING"}
        assert params["threads"]["type"] == "INT"
        assert {p["type"] for n, p in params.items() if n not in {"max_rows", "threads"}} == {
            "STRING"
        }
        assert container["ports"] == [{"name": "http", "containerPort": 9000, "protocol": "TCP"}]
        assert container["readinessProbe"]["httpGet"]["path"] == READINESS_PATH
        assert container["livenessProbe"]["httpGet"]["path"] == LIVENESS_PATH
        mount = container["volumeMounts"][0]["mountPath"]
        assert params["request_log"]["value"].startswith(mount + "/")
    for key, value in document["metadata"]["labels"].items():
        assert re.fullmatch(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?", value), key
        assert len(value) <= 63


def test_external_url_follows_the_ingress_convention():
    assert external_url(make_target(base_url="https://models.example.com/")) == (
        "https://models.example.com/seldon/ml-serving/adult-income/api/v1.0/predictions"
    )


def test_optional_fields_are_left_out_when_not_configured():
    document = single_predictor(make_target(storage_secret_name=None, service_account=None), V3)
    spec = document["spec"]["predictors"][0]["componentSpecs"][0]["spec"]
    assert "serviceAccountName" not in spec
    assert "envFrom" not in spec["containers"][0]


def test_label_values_are_sanitized_but_annotations_keep_the_original():
    model = ServedModel("Adult Income/Classifier (v2)", "12", "s3://models/adult income/12")
    document = single_predictor(make_target(), model)
    labels = document["metadata"]["labels"]
    assert labels["ml-cicd/model-name"] == "Adult-Income-Classifier-v2"
    assert document["metadata"]["annotations"]["ml-cicd/stable-model"] == (
        "Adult Income/Classifier (v2) version 12"
    )
    params = {
        p["name"]: p["value"] for p in document["spec"]["predictors"][0]["graph"]["parameters"]
    }
    assert params["model_name"] == "Adult Income/Classifier (v2)"
    assert label_value("x" * 80 + "-") == "x" * 63
    assert label_value("--__..abc..__--") == "abc"


def test_dns_label_derives_valid_names():
    assert dns_label("Adult_Income Classifier!!") == "adult-income-classifier"
    assert dns_label("a" * 70 + "-b", max_length=10) == "a" * 10
    with pytest.raises(ValueError, match="no letters or digits"):
        dns_label("___")


# --------------------------------------------------------------------------------------------
# (2) invalid input


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"deployment_name": "Adult_Income"}, r"not a valid DNS-1123 label.*'adult-income'"),
        ({"deployment_name": "adult-income-"}, "not a valid DNS-1123 label"),
        ({"deployment_name": "a" * 51}, "at most 50"),
        ({"deployment_name": "3-adult"}, "must start with a letter"),
        ({"deployment_name": ""}, "non-empty"),
        ({"namespace": "ML.Serving"}, "namespace 'ML.Serving' is not a valid DNS-1123 label"),
        ({"image": "registry.example.com/seldon-server"}, "no tag or digest"),
        ({"image": "registry.example.com:5000/seldon-server:latest"}, "moving tag 'latest'"),
        ({"image": "seldon server:1"}, "without spaces"),
        ({"base_url": "seldon.example.com"}, "must be the ingress URL"),
        ({"mlflow_tracking_uri": " "}, "must not be empty"),
        ({"replicas": 0}, "replicas must be an integer >= 1"),
        ({"storage_secret_name": "S3 creds"}, "storage secret name"),
        ({"resources": {"request": {"cpu": "1"}}}, "only hold 'requests' and 'limits'"),
        ({"max_rows": 0}, "max_rows must be at least 1"),
    ],
)
def test_invalid_targets_are_rejected(overrides, message):
    with pytest.raises(ValueError, match=message):
        make_target(**overrides)


def test_image_with_registry_port_and_digest_is_accepted():
    make_target(image="registry.example.com:5000/seldon-server:1.4.0")
    make_target(image="registry.example.com:5000/seldon-server@sha256:" + "a" * 64)


@pytest.mark.parametrize("percent", [0, 100, -10, 150, 10.5, True, "10"])
def test_canary_traffic_must_be_strictly_between_0_and_100(percent):
    with pytest.raises(ValueError, match="strictly between 0 and 100"):
        canary(make_target(), V3, V4, percent)


@pytest.mark.parametrize(
    ("version", "uri", "message"),
    [
        ("champion", "models:/adult-income-classifier/3", "alias or stage"),
        ("latest", "models:/adult-income-classifier/3", "alias or stage"),
        ("@champion", "models:/adult-income-classifier/3", "alias or stage"),
        ("v3", "models:/adult-income-classifier/3", "explicit MLflow version number"),
        ("0", "models:/adult-income-classifier/0", "explicit MLflow version number"),
        ("3", "models:/adult-income-classifier@champion", "never an alias"),
        ("3", "models:/adult-income-classifier/Production", "never an alias"),
        ("3", "models:/adult-income-classifier/latest", "never an alias"),
        ("3", "models:/adult-income-classifier/4", "disagrees with model_name/model_version"),
        ("3", "models:/other-model/3", "disagrees with model_name/model_version"),
        ("3", "", "must not be empty"),
    ],
)
def test_served_model_must_name_an_explicit_version(version, uri, message):
    with pytest.raises(ValueError, match=message):
        ServedModel("adult-income-classifier", version, uri)


def test_served_model_accepts_paths_and_normalizes_int_versions():
    model = ServedModel("adult-income-classifier", 7, "s3://mlflow/1/abc/artifacts/model")  # type: ignore[arg-type]
    assert model.model_version == "7"


def test_rollouts_need_two_different_models():
    with pytest.raises(ValueError, match="same model"):
        canary(make_target(), V3, V3, 10)
    with pytest.raises(ValueError, match="same model"):
        shadow(make_target(), V3, copy.copy(V3))


def test_candidate_replicas_are_validated():
    with pytest.raises(ValueError, match="replicas must be an integer >= 1"):
        canary(make_target(), V3, V4, 10, candidate_replicas=0)


# --------------------------------------------------------------------------------------------
# (3) the backend against an in-memory Kubernetes API


WHERE = (API_GROUP, API_VERSION, "ml-serving", PLURAL)


@pytest.fixture
def api():
    return FakeCustomObjectsApi()


@pytest.fixture
def backend(api):
    return SeldonKubernetesBackend(api, make_target())


def with_version(document: dict[str, Any], version: str) -> dict[str, Any]:
    body = copy.deepcopy(document)
    body["metadata"]["resourceVersion"] = version
    return body


def test_first_apply_creates_second_apply_replaces_with_the_fetched_resource_version(api, backend):
    first = single_predictor(backend.target, V3)
    second = canary(backend.target, V3, V4, 10)

    created = backend.apply(first)
    replaced = backend.apply(second)

    assert api.calls == [
        ("get", *WHERE, "adult-income"),
        ("create", *WHERE, first),
        ("get", *WHERE, "adult-income"),
        ("replace", *WHERE, "adult-income", with_version(second, "1")),
    ]
    assert created["metadata"]["resourceVersion"] == "1"
    assert replaced["metadata"]["resourceVersion"] == "2"
    assert api.objects[("ml-serving", PLURAL, "adult-income")] == with_version(second, "2")
    # The caller's document is not mutated.
    assert "resourceVersion" not in second["metadata"]


def test_apply_is_idempotent(api, backend):
    document = single_predictor(backend.target, V3)
    backend.apply(document)
    backend.apply(document)
    backend.apply(document)
    assert [call[0] for call in api.calls] == ["get", "create", "get", "replace", "get", "replace"]
    assert api.objects[("ml-serving", PLURAL, "adult-income")] == with_version(document, "3")


def test_apply_rereads_once_after_a_conflict(api, backend):
    document = single_predictor(backend.target, V3)
    backend.apply(document)
    api.fail_next("replace", api_error(409, "Conflict", "the object has been modified"))
    backend.apply(document)
    assert [call[0] for call in api.calls] == ["get", "create", "get", "replace", "get", "replace"]


def test_a_second_conflict_becomes_a_clear_error(api, backend):
    document = single_predictor(backend.target, V3)
    backend.apply(document)
    for _ in range(2):
        api.fail_next("replace", api_error(409, "Conflict", "the object has been modified"))
    with pytest.raises(RuntimeError, match=r"replace SeldonDeployment 'adult-income'.*HTTP 409"):
        backend.apply(document)


def test_apply_refuses_documents_for_another_namespace(backend):
    document = single_predictor(make_target(namespace="other"), V3)
    with pytest.raises(ValueError, match="namespace 'other'.*'ml-serving'"):
        backend.apply(document)
    with pytest.raises(ValueError, match="expected a machinelearning.seldon.io/v1"):
        backend.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})


def test_delete_of_a_missing_resource_is_fine(api, backend):
    assert backend.delete("adult-income") is False
    assert api.calls == [("delete", *WHERE, "adult-income")]


def test_delete_removes_an_existing_resource(api, backend):
    backend.apply(single_predictor(backend.target, V3))
    assert backend.delete() is True
    assert api.objects == {}


FORBIDDEN = (
    'seldondeployments.machinelearning.seldon.io "adult-income" is forbidden: User '
    '"system:serviceaccount:ci:runner" cannot get resource "seldondeployments" in API group '
    '"machinelearning.seldon.io" in the namespace "ml-serving"'
)


@pytest.mark.parametrize("method", ["get", "create"])
def test_forbidden_becomes_a_runtime_error_naming_resource_and_namespace(api, backend, method):
    api.fail_next(method, api_error(403, "Forbidden", FORBIDDEN))
    with pytest.raises(RuntimeError) as info:
        backend.apply(single_predictor(backend.target, V3))
    message = str(info.value)
    assert "SeldonDeployment 'adult-income'" in message
    assert "namespace 'ml-serving'" in message
    assert "HTTP 403 Forbidden" in message
    assert "cannot get resource" in message  # the API server's own words
    assert "RBAC" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_webhook_rejection_is_reported_with_its_message(api, backend):
    backend.apply(single_predictor(backend.target, V3))
    api.fail_next(
        "replace",
        api_error(422, "Unprocessable Entity", "Traffic must sum to 100 for multiple predictors"),
    )
    with pytest.raises(RuntimeError, match=r"HTTP 422.*Traffic must sum to 100.*admission webhook"):
        backend.apply(canary(backend.target, V3, V4, 10))


def test_delete_forbidden_is_a_runtime_error(api, backend):
    api.fail_next("delete", api_error(403, "Forbidden", "no delete for you"))
    with pytest.raises(RuntimeError, match=r"delete SeldonDeployment 'adult-income'.*'ml-serving'"):
        backend.delete()


def test_unreachable_api_is_a_runtime_error(backend):
    from urllib3.exceptions import MaxRetryError

    class Unreachable(FakeCustomObjectsApi):
        def get_namespaced_custom_object(self, *args):
            raise MaxRetryError(None, "https://10.0.0.1:6443/apis", "connection refused")  # type: ignore[arg-type]

    backend.api = Unreachable()
    with pytest.raises(RuntimeError, match="could not reach the Kubernetes API"):
        backend.status()


def test_status_of_a_missing_deployment_is_absent(api, backend):
    status = backend.status("adult-income")
    assert status["state"] == "absent"
    assert status["replicas_available"] == 0
    assert api.calls == [("get", *WHERE, "adult-income")]


def test_status_reads_the_operator_status(api, backend):
    backend.apply(canary(backend.target, V3, V4, 10, candidate_replicas=1))
    stored = api.objects[("ml-serving", PLURAL, "adult-income")]
    stored["status"] = {
        "state": "Available",
        "deploymentStatus": {  # what Seldon Core v1.19's operator writes
            "adult-income-stable-0-model": {"replicas": 2, "availableReplicas": 2},
            "adult-income-canary-0-model": {"replicas": 1, "availableReplicas": 0},
        },
    }
    status = backend.status()
    assert status["state"] == "Available"
    assert (status["replicas"], status["replicas_available"]) == (3, 2)
    assert status["versions"] == {"stable": "3", "canary": "4"}
    assert status["url"] == (
        "http://seldon.example.com/seldon/ml-serving/adult-income/api/v1.0/predictions"
    )
    del stored["status"]
    assert backend.status()["state"] == "Pending"


# --------------------------------------------------------------------------------------------
# (4) configuration from ZenML's Seldon model deployer


def test_from_zenml_deployer_config_builds_the_target(api, monkeypatch):
    import kubernetes.config

    def no_kubeconfig(*args, **kwargs):
        raise AssertionError("the kubeconfig must not be read when an API object is injected")

    monkeypatch.setattr(kubernetes.config, "load_kube_config", no_kubeconfig)
    backend = SeldonKubernetesBackend.from_zenml_deployer_config(
        deployer_config(),
        "registry.example.com/ml-cicd/seldon-server:1.4.0",
        "http://mlflow.mlflow.svc.cluster.local:5000",
        deployment_name="adult-income",
        api=api,
        service_account="model-server",
        replicas=2,
    )
    assert backend.api is api
    assert backend.target == make_target()
    assert backend.namespace == "ml-serving"


def test_from_zenml_deployer_config_loads_the_configured_context(monkeypatch):
    import kubernetes.client
    import kubernetes.config

    contexts: list[str | None] = []
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setattr(
        kubernetes.config, "load_kube_config", lambda context=None, **_: contexts.append(context)
    )
    backend = SeldonKubernetesBackend.from_zenml_deployer_config(
        deployer_config(kubernetes_secret_name=None),
        "registry.example.com/ml-cicd/seldon-server:1.4.0",
        "http://mlflow:5000",
        deployment_name="adult-income",
    )
    assert contexts == ["gpu-cluster"]
    assert isinstance(backend.api, kubernetes.client.CustomObjectsApi)
    assert backend.target.storage_secret_name is None


def test_from_zenml_deployer_config_reports_a_missing_context(monkeypatch, tmp_path):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "other", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "other",
            }
        )
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    # The client reads KUBECONFIG once, at import: point its default at this file too.
    from kubernetes.config import kube_config

    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))
    with pytest.raises(RuntimeError, match="context 'gpu-cluster'"):
        SeldonKubernetesBackend.from_zenml_deployer_config(
            deployer_config(),
            "registry.example.com/ml-cicd/seldon-server:1.4.0",
            "http://mlflow:5000",
            deployment_name="adult-income",
        )


@pytest.fixture
def step_pod(monkeypatch, tmp_path):
    """This process as a step pod: the service-account files and variables, no kubeconfig."""
    import kubernetes.client
    from kubernetes.config import incluster_config, kube_config

    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text("pod-token")
    (account / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(account / "token"))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(account / "ca.crt"))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    missing = tmp_path / "no-kubeconfig"
    monkeypatch.setenv("KUBECONFIG", str(missing))
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(missing))
    # the loader sets the client's process-wide default; give it back afterwards
    monkeypatch.setattr(
        kubernetes.client.Configuration, "_default", kubernetes.client.Configuration._default
    )
    return account


def test_a_step_pod_uses_its_service_account_although_the_stack_names_a_context(step_pod):
    import kubernetes.client

    backend = SeldonKubernetesBackend.from_zenml_deployer_config(
        deployer_config(),  # kubernetes_context: gpu-cluster, as the stack always sets it
        "registry.example.com/ml-cicd/seldon-server:1.4.0",
        "http://mlflow:5000",
        deployment_name="adult-income",
    )
    assert isinstance(backend.api, kubernetes.client.CustomObjectsApi)
    configuration = kubernetes.client.Configuration.get_default_copy()
    assert configuration.host == "https://10.96.0.1:443"
    assert configuration.api_key["authorization"].lower() == "bearer pod-token"


def test_a_pod_without_a_service_account_token_is_told_so(step_pod):
    (step_pod / "token").unlink()
    with pytest.raises(RuntimeError, match="context 'gpu-cluster'"):
        SeldonKubernetesBackend.from_zenml_deployer_config(
            deployer_config(), "img:1", "http://mlflow:5000", deployment_name="adult-income"
        )


def test_from_zenml_deployer_config_needs_a_namespace_and_a_kubernetes_secret(api):
    args = ("registry.example.com/ml-cicd/seldon-server:1.4.0", "http://mlflow:5000")
    with pytest.raises(ValueError, match="no kubernetes_namespace"):
        SeldonKubernetesBackend.from_zenml_deployer_config(
            deployer_config(kubernetes_namespace=None), *args, deployment_name="x", api=api
        )
    with pytest.raises(ValueError, match="ZenML secret 'mlflow'.*kubernetes_secret_name"):
        SeldonKubernetesBackend.from_zenml_deployer_config(
            deployer_config(secret="mlflow", kubernetes_secret_name=None),
            *args,
            deployment_name="x",
            api=api,
        )


# --------------------------------------------------------------------------------------------
# (5) the serving image and its entry point


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continuation line"
    return [(i.split(None, 1)[0].upper(), i.split(None, 1)[1]) for i in logical]


EXPECTED_CMD = ["seldon-core-microservice", MODEL_SERVER_CLASS, "--service-type", "MODEL"]


def test_dockerfile_runs_the_model_server_with_seldon_core():
    instructions = dockerfile_instructions()
    commands = [json.loads(args) for op, args in instructions if op in {"CMD", "ENTRYPOINT"}]
    assert commands == [EXPECTED_CMD]
    assert EXPECTED_CMD == [
        "seldon-core-microservice",
        "mlcicd.serving.server.model_server.SeldonModelServer",
        "--service-type",
        "MODEL",
    ]
    assert ("FROM", "python:3.12-slim") in instructions
    assert ("EXPOSE", "9000") in instructions
    users = [args for op, args in instructions if op == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    sync = next(args for op, args in instructions if op == "RUN" and "uv sync" in args)
    # the build argument picks the groups: run the RUN line's shell with uv echoing its argv
    for pyfunc, groups in (
        ("false", "--only-group serve"),
        ("true", "--only-group serve --only-group serve-pyfunc"),
    ):
        shown = subprocess.run(
            ["/bin/sh", "-c", f'uv() {{ echo uv "$@"; }}; {sync}'],
            env={"PYFUNC": pyfunc, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert shown == ["uv", "sync", "--frozen", *groups.split(), "--no-install-project"]
    assert ("ARG", "PYFUNC=false") in instructions
    env = " ".join(args for op, args in instructions if op == "ENV")
    assert "PYTHONPATH=/app" in env


def _serve_closure(group: str = "serve") -> set[str]:
    """Every package a serving dependency group installs, resolved through uv.lock."""
    import tomllib

    lock = tomllib.loads((REPO_ROOT / "uv.lock").read_text())
    packages = {p["name"]: p for p in lock["package"]}
    root = packages["ml-cicd"]
    todo = [d["name"] for d in root["dev-dependencies"][group]]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += [d["name"] for d in packages[name].get("dependencies", [])]
    return seen


def test_the_serving_image_installs_what_the_server_imports_and_no_training_stack():
    """Static: third-party imports of mlcicd/serving/server and inference/ vs the serve groups.

    The lean `serve` group must not hold torch, scikit-learn or pandas: that the ONNX path
    imports none of them is checked by running it (tests/serving/test_model_server.py).
    """
    import ast
    import importlib.metadata
    import sys as _sys

    distributions = importlib.metadata.packages_distributions()
    imported: set[str] = set()
    for folder in ("mlcicd/serving/server", "inference"):
        for path in (REPO_ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    imported |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    imported.add(node.module.split(".")[0])
    third_party = imported - set(_sys.stdlib_module_names) - {"mlcicd", "inference"}
    lean = _serve_closure()
    closure = lean | _serve_closure("serve-pyfunc")
    for module in sorted(third_party):
        names = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        assert names & closure, f"the server imports {module} ({names}); add it to `serve`"
    assert not {"zenml", "great-expectations", "fairlearn", "streamlit", "mlflow"} & closure
    assert not {"torch", "scikit-learn", "pandas", "scipy"} & lean


def test_every_path_the_dockerfile_copies_exists():
    sources = copied_paths()
    assert {"pyproject.toml", "uv.lock", ".python-version", "mlcicd/serving/server/"} <= set(
        sources
    )
    for source in sources:
        assert (REPO_ROOT / source).exists(), (
            f"Dockerfile copies {source}, which is not in the repo"
        )


def test_the_image_command_parses_with_seldon_core_outside_docker(tmp_path):
    assert MICROSERVICE.exists(), f"{MICROSERVICE} missing: is seldon-core installed in the venv?"
    result = subprocess.run(
        [str(MICROSERVICE), "--help"], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "--service-type" in result.stdout
    # The exact argv of the image, through seldon-core's own parser: the class path lands in
    # interface_name and the REST port defaults to the 9000 the SeldonDeployment declares.
    probe = (
        "import json, sys\n"
        "from seldon_core.microservice import parse_args\n"
        f"sys.argv = {EXPECTED_CMD!r}\n"
        "args, unknown = parse_args()\n"
        "print(json.dumps({'interface': args.interface_name, 'service_type': args.service_type,"
        " 'http_port': args.http_port, 'unknown': unknown}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREDICTIVE_UNIT_")}
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    parsed = json.loads(result.stdout.strip().splitlines()[-1])
    assert parsed == {
        "interface": MODEL_SERVER_CLASS,
        "service_type": "MODEL",
        "http_port": 9000,
        "unknown": [],
    }


def copied_paths() -> list[str]:
    sources: list[str] = []
    for op, args in dockerfile_instructions():
        if op in {"COPY", "ADD"}:
            words = [w for w in shlex.split(args) if not w.startswith("--")]
            sources.extend(words[:-1])
    return sources


def import_in_subprocess(pythonpath: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    module_name, class_name = MODEL_SERVER_CLASS.rsplit(".", 1)
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import importlib; cls = getattr(importlib.import_module({module_name!r}), "
            f"{class_name!r}); print(cls.__module__, cls.__name__)",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=cwd,
        env=env,
    )


def model_server_file() -> Path:
    module_name = MODEL_SERVER_CLASS.rsplit(".", 1)[0]
    module_file = REPO_ROOT / Path(*module_name.split(".")).with_suffix(".py")
    assert module_file.exists(), f"{module_file} (the model server class) does not exist yet"
    return module_file


def test_the_model_server_class_is_importable_with_pythonpath_at_the_repo(tmp_path):
    model_server_file()
    result = import_in_subprocess(REPO_ROOT, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == MODEL_SERVER_CLASS.rsplit(".", 1)


def test_the_image_holds_everything_the_model_server_imports(tmp_path):
    """Rebuild the image's /app from the Dockerfile's COPY lines only and import from there."""
    import shutil

    model_server_file()
    app = tmp_path / "app"
    app.mkdir()
    for source in copied_paths():
        origin = REPO_ROOT / source
        if origin.is_dir():
            shutil.copytree(
                origin, app / source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        else:
            (app / source).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, app / source)
    result = import_in_subprocess(app, tmp_path)
    assert result.returncode == 0, (
        "the model server imports something the Dockerfile does not COPY:\n" + result.stderr
    )
    # the log-shipping sidecar runs `python -m mlcicd.serving.server.log_shipper` from the image
    shipper = subprocess.run(
        [sys.executable, "-m", "mlcicd.serving.server.log_shipper", "--help"],
        capture_output=True, text=True, timeout=180, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(app)},
    )  # fmt: skip
    assert shipper.returncode == 0 and "--state-dir" in shipper.stdout, shipper.stderr
