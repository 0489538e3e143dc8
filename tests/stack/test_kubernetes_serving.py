"""The Kubernetes ServingBackend adapter against an in-memory Kubernetes API and a real HTTP verify.

The fake API (from test_seldon_kubernetes) stores documents; a tiny "operator" below writes the
`.status` Seldon's operator would write. The ingress is a real HTTP server on 127.0.0.1 that
answers with the model version the stored document serves, and verify() calls it over HTTP.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from mlcicd.config import load_config
from mlcicd.serving.contract import ModelRef, ServingError
from mlcicd.serving.kubernetes.backend import KubernetesEndpointState, SeldonKubernetesServing
from mlcicd.serving.kubernetes.documents import served_model
from mlcicd.serving.kubernetes.manifests import PLURAL
from mlcicd.serving.server.protocol import PREDICTIONS_PATH
from tests.helpers.kubernetes import FakeCustomObjectsApi, deployer_config

NAME = "adult-income-classifier-staging"
NAMESPACE = "ml-serving-staging"  # kubernetes.serving.environments.staging.namespace
KEY = (NAMESPACE, PLURAL, NAME)


class OperatorApi(FakeCustomObjectsApi):
    """Writes `.status` after each write, as the Seldon operator would once pods are up."""

    def __init__(self) -> None:
        super().__init__()
        self.outcome = "Available"  # or "Failed", or "Creating" (never becomes ready)
        self.description = ""
        self.pods_serve = ""  # a version the pods keep serving whatever the spec says

    def _reconcile(self, key: tuple[str, str, str]) -> None:
        replicas = self.objects[key]["spec"]["predictors"][0]["replicas"]
        ready = self.outcome == "Available"
        self.objects[key]["status"] = {
            "state": self.outcome,
            "description": self.description,
            "deploymentStatus": {
                f"{key[2]}-stable-0-model": {
                    "replicas": replicas,
                    "availableReplicas": replicas if ready else 0,
                }
            },
        }

    def create_namespaced_custom_object(self, group, version, namespace, plural, body):
        created = super().create_namespaced_custom_object(group, version, namespace, plural, body)
        self._reconcile((namespace, plural, body["metadata"]["name"]))
        return created

    def replace_namespaced_custom_object(self, group, version, namespace, plural, name, body):
        replaced = super().replace_namespaced_custom_object(
            group, version, namespace, plural, name, body
        )
        self._reconcile((namespace, plural, name))
        return replaced


@pytest.fixture
def api() -> OperatorApi:
    return OperatorApi()


@pytest.fixture
def ingress(api: OperatorApi) -> Iterator[str]:
    """http://127.0.0.1:PORT, answering /seldon/<ns>/<name>/api/v1.0/predictions from the store."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            parts = self.path.split("/")
            key = (parts[2], PLURAL, parts[3]) if len(parts) > 3 else None
            document = api.objects.get(key) if key else None
            model = served_model(document) if document else None
            status = 200 if model and self.path.endswith(PREDICTIONS_PATH) else 404
            body = json.dumps({"meta": {"tags": {"model_version": model.version if model else ""}}})
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def do_GET(self) -> None:
            # /seldon/<ns>/<name>/api/v1.0/metadata/model: what the pods behind it serve
            parts = self.path.split("/")
            key = (parts[2], PLURAL, parts[3]) if len(parts) > 3 else None
            document = api.objects.get(key) if key else None
            model = served_model(document) if document else None
            version = api.pods_serve or (model.version if model else "")
            found = model is not None and self.path.endswith("/api/v1.0/metadata/model")
            body = json.dumps({"name": model.name if model else "", "versions": [version]})
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def serving(api: OperatorApi, ingress: str) -> SeldonKubernetesServing:
    config, _ = load_config("staging")
    clock = FakeClock()
    return SeldonKubernetesServing.from_deployer_config(
        config,
        deployer_config(base_url=ingress, kubernetes_secret_name="model-storage"),
        "https://mlflow.example.com",
        "registry.example.com/ml-cicd",
        api=api,
        artifact_path="s3://ml-cicd-artifacts/zenml",
        clock=clock,
        sleep=clock.sleep,
        ready_timeout=60,
        poll_interval=5,
    )


def ref(version: str) -> ModelRef:
    return ModelRef(
        "adult-income-classifier", version, f"models:/adult-income-classifier/{version}"
    )


def http_verify(expected: str, seen: list[str]):
    def verify(url: str) -> None:
        seen.append(url)
        response = requests.post(url, json={"data": {"ndarray": [[1]]}}, timeout=5)
        response.raise_for_status()
        served = response.json()["meta"]["tags"]["model_version"]
        if served != expected:
            raise AssertionError(f"served version {served}, expected {expected}")

    return verify


def test_deploy_applies_waits_and_verifies_through_the_ingress(serving, api, ingress):
    seen: list[str] = []
    state = serving.deploy("staging", ref("3"), http_verify("3", seen))
    assert seen == [f"{ingress}/seldon/{NAMESPACE}/{NAME}{PREDICTIONS_PATH}"]
    assert isinstance(state, KubernetesEndpointState)
    assert (state.model_version, state.url, state.pid, state.namespace) == (
        "3",
        seen[0],
        0,
        NAMESPACE,
    )
    stored = api.objects[KEY]
    container = stored["spec"]["predictors"][0]["componentSpecs"][0]["spec"]["containers"][0]
    assert container["image"] == "registry.example.com/ml-cicd/ml-cicd-seldon-server:0.1.0"
    assert serving.status("staging").healthy


def test_a_failed_verify_re_applies_the_previous_document(serving, api):
    serving.deploy("staging", ref("3"), http_verify("3", []))
    with pytest.raises(AssertionError, match="served version 4, expected 5"):
        serving.deploy("staging", ref("4"), http_verify("5", []))
    assert served_model(api.objects[KEY]) == ref("3")
    assert [c[0] for c in api.calls].count("replace") == 2  # the attempt, then the rollback
    status = serving.status("staging")
    assert status.healthy and status.state.model_version == "3"


def test_available_pods_still_serving_the_old_version_fail_and_roll_back(serving, api):
    serving.deploy("staging", ref("3"), http_verify("3", []))
    api.pods_serve = "3"  # the operator says Available, but the rollout never happened
    verified: list[str] = []
    with pytest.raises(ServingError, match=r"did not serve version 4 .*versions \['3'\]"):
        serving.deploy("staging", ref("4"), http_verify("4", verified))
    assert verified == []  # the smoke test never ran against the old pods
    assert served_model(api.objects[KEY]) == ref("3")


def test_a_failed_first_deployment_is_removed(serving, api):
    with pytest.raises(AssertionError):
        serving.deploy("staging", ref("3"), http_verify("9", []))
    assert KEY not in api.objects
    assert serving.status("staging").detail.startswith("nothing deployed")


def test_an_operator_failure_names_the_deployment_and_its_message(serving, api):
    serving.deploy("staging", ref("3"), http_verify("3", []))
    api.outcome, api.description = "Failed", "ImagePullBackOff: registry.example.com denied"
    called: list[str] = []
    with pytest.raises(
        ServingError, match=f"'{NAME}' in namespace '{NAMESPACE}' failed: ImagePull"
    ):
        serving.deploy("staging", ref("4"), called.append)
    assert called == []  # never verified
    assert served_model(api.objects[KEY]) == ref("3")  # rolled back


def test_a_deployment_that_never_becomes_available_times_out(serving, api):
    api.outcome, api.description = "Creating", "waiting for pods"
    with pytest.raises(ServingError) as info:
        serving.deploy("staging", ref("3"), http_verify("3", []))
    message = str(info.value)
    assert f"SeldonDeployment '{NAME}'" in message and "not Available after 60 s" in message
    assert "state Creating (waiting for pods), 0/1 replicas available" in message
    assert "kubectl" in message


def test_status_stop_restart_and_logs(serving, api):
    assert not serving.status("production").running
    serving.deploy("staging", ref("3"), http_verify("3", []))
    api.objects[KEY]["status"]["state"] = "Creating"
    status = serving.status("staging")
    assert (status.running, status.healthy) == (True, False)
    assert status.detail.startswith("Creating")
    state = serving.restart("staging")
    assert state.model_version == "3"
    pod_meta = api.objects[KEY]["spec"]["predictors"][0]["componentSpecs"][0]["metadata"]
    assert "ml-cicd/restarted-at" in pod_meta["annotations"]
    logs = serving.logs("staging", lines=20)
    assert (
        f"kubectl --context gpu-cluster -n {NAMESPACE} logs -l seldon-deployment-id={NAME}" in logs
    )
    assert "--tail=20" in logs
    assert serving.stop("staging") is True and serving.stop("staging") is False
    with pytest.raises(ServingError, match="nothing is deployed to staging"):
        serving.restart("staging")
    with pytest.raises(ServingError, match="unknown environment 'qa'"):
        serving.status("qa")


def test_an_alias_instead_of_a_version_is_refused(serving, api):
    with pytest.raises(ServingError, match="explicit MLflow version number"):
        serving.deploy("staging", ModelRef("adult-income-classifier", "champion", "x"), print)
    assert api.calls == []


def test_the_gpu_k8s_stack_gets_the_kubernetes_backend(gpu_k8s_stack, api):
    from mlcicd.serving.kubernetes.backend import kubernetes_serving_backend

    config, _ = load_config("production")
    serving = kubernetes_serving_backend(config, gpu_k8s_stack, api=api)
    targets = {env: backend.target for env, backend in serving.backends.items()}
    assert targets["production"].deployment_name == "adult-income-classifier-production"
    assert targets["production"].replicas == 2
    assert targets["staging"].base_url == "https://models.example.com"
    assert targets["staging"].storage_secret_name == "model-storage"
    assert targets["staging"].mlflow_tracking_uri == "https://mlflow.example.com"
    assert serving.kubernetes_context == "gpu-cluster"


def test_pods_ship_their_request_log_next_to_the_artifacts(gpu_k8s_stack, api):
    """The sidecar writes where the monitor reads, per environment, with the stack's endpoint."""
    from mlcicd.serving.kubernetes.backend import kubernetes_serving_backend
    from mlcicd.serving.kubernetes.manifests import SHIPPER_CONTAINER, single_predictor
    from mlcicd.serving.kubernetes.targets import ServedModel

    config, _ = load_config("production")
    serving = kubernetes_serving_backend(config, gpu_k8s_stack, api=api)
    store = gpu_k8s_stack.artifact_store.config
    for environment in ("staging", "production"):
        url = f"{store.path}/request-logs/{environment}"
        assert serving.request_logs(environment) == [f"{url}/**/*.jsonl"]
        target = serving.backends[environment].target
        document = single_predictor(target, ServedModel("m", "1", "models:/m/1"))
        pod = document["spec"]["predictors"][0]["componentSpecs"][0]["spec"]
        model, shipper = pod["containers"]
        assert shipper["name"] == SHIPPER_CONTAINER and shipper["image"] == model["image"]
        command = shipper["command"]
        assert command[command.index("--url") + 1] == url
        assert command[command.index("--endpoint-url") + 1] == store.client_kwargs["endpoint_url"]
        assert shipper["envFrom"] == model["envFrom"]  # the serving secret's AWS_* keys
        assert shipper["volumeMounts"] == model["volumeMounts"]


def test_the_request_log_sink_can_be_moved_or_switched_off(gpu_k8s_stack, api):
    from mlcicd.serving.kubernetes.backend import kubernetes_serving_backend

    config, _ = load_config("production")
    sink = config.kubernetes.serving.request_log_sink
    moved = _with_sink(config, sink.model_copy(update={"url": "s3://logs-bucket/models/"}))
    serving = kubernetes_serving_backend(moved, gpu_k8s_stack, api=api)
    assert serving.request_logs("staging") == ["s3://logs-bucket/models/staging/**/*.jsonl"]
    off = _with_sink(config, sink.model_copy(update={"enabled": False}))
    serving = kubernetes_serving_backend(off, gpu_k8s_stack, api=api)
    assert serving.backends["staging"].target.request_log_sink is None
    with pytest.raises(ServingError, match=r"kubernetes\.serving\.request_log_sink\.enabled is"):
        serving.request_logs("production")


def test_a_bad_request_log_sink_names_the_key() -> None:
    from mlcicd.config.kubernetes import RequestLogSinkConfig
    from mlcicd.serving.kubernetes.environments import request_log_sink

    with pytest.raises(ValueError, match=r"request_log_sink\.url must be s3://"):
        RequestLogSinkConfig(url="gs://bucket/logs")
    with pytest.raises(ValueError, match=r"request_log_sink\.endpoint_url must be http"):
        RequestLogSinkConfig(endpoint_url="minio:9000")
    config, _ = load_config("production")
    with pytest.raises(ServingError, match=r"set kubernetes\.serving\.request_log_sink\.url"):
        request_log_sink(config, "production", "/mnt/artifacts")


def _with_sink(config, sink):
    kubernetes = config.kubernetes
    serving = kubernetes.serving.model_copy(update={"request_log_sink": sink})
    return config.model_copy(
        update={"kubernetes": kubernetes.model_copy(update={"serving": serving})}
    )


def test_the_monitor_reads_shipped_logs_with_the_artifact_store_credentials(gpu_k8s_stack):
    from mlcicd.stack.active import request_log_storage_options

    config, _ = load_config("production")
    options = request_log_storage_options(config, gpu_k8s_stack.artifact_store)
    store = gpu_k8s_stack.artifact_store.config
    assert options["s3"]["key"] == "dummy-access-key"  # from the ZenML secret gpu-k8s-s3
    assert options["s3"]["secret"] == "dummy-secret-key"
    assert options["s3"]["client_kwargs"]["endpoint_url"] == store.client_kwargs["endpoint_url"]
    sink = config.kubernetes.serving.request_log_sink
    elsewhere = _with_sink(config, sink.model_copy(update={"endpoint_url": "http://logs:9000"}))
    options = request_log_storage_options(elsewhere, gpu_k8s_stack.artifact_store)
    assert options["s3"]["client_kwargs"]["endpoint_url"] == "http://logs:9000"
