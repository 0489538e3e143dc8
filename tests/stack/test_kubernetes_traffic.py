"""The rollout's traffic controls on Kubernetes, against the simulated Kubernetes API.

SeldonOperatorApi (tests/helpers/kubernetes.py) is the API server with Seldon Core v1's webhooks
and a small operator; everything else is real: the documents, the JSON patches, the wait for the
operator, and the rollout engine driving them. The analysis reads an in-test metrics source (the
real sources are tested against real servers and Prometheus elsewhere): the point here is the
SeldonDeployment's traffic after each step.
"""

from __future__ import annotations

import copy
import json
import math
import threading
import time
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from mlcicd.config import AnalysisConfig, CanaryConfig, CanaryStep, RolloutConfig, load_config
from mlcicd.config.kubernetes import PrometheusConfig
from mlcicd.release.rollout.engine import RolloutAborted, run_rollout
from mlcicd.serving.contract import ModelRef, ServingError
from mlcicd.serving.kubernetes import traffic as traffic_module
from mlcicd.serving.kubernetes.backend import SeldonKubernetesServing
from mlcicd.serving.kubernetes.manifests import PLURAL, single_predictor
from mlcicd.serving.kubernetes.targets import ServedModel
from mlcicd.serving.kubernetes.traffic import SeldonTraffic
from mlcicd.serving.metrics.window import Mark, VariantWindow
from tests.helpers.kubernetes import SeldonOperatorApi, deployer_config

NAME = "adult-income-classifier-production"
NAMESPACE = "ml-serving-production"  # kubernetes.serving.environments.production.namespace
KEY = (NAMESPACE, PLURAL, NAME)
MODEL = "adult-income-classifier"
V4_URL = f"http://{NAME}-v4.{NAMESPACE}.svc.cluster.local:8000/api/v1.0/predictions"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def api() -> SeldonOperatorApi:
    return SeldonOperatorApi(ready_after=2)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def serving(api: SeldonOperatorApi, clock: FakeClock) -> SeldonKubernetesServing:
    config, _ = load_config("production")
    serving = SeldonKubernetesServing.from_deployer_config(
        config,
        deployer_config(kubernetes_secret_name="model-storage"),
        "https://mlflow.example.com",
        "registry.example.com/ml-cicd",
        api=api,
        artifact_path="s3://ml-cicd-artifacts/zenml",
        clock=clock,
        sleep=clock.sleep,
        ready_timeout=60,
        poll_interval=5,
    )
    backend = serving.backends["production"]
    backend.apply(single_predictor(backend.target, served("3")))  # what `deploy` leaves
    serving.traffic()._wait(backend, ["stable"])
    api.calls.clear()
    return serving


@pytest.fixture
def traffic(serving: SeldonKubernetesServing) -> SeldonTraffic:
    return serving.traffic()


def ref(version: str) -> ModelRef:
    return ModelRef(MODEL, version, f"models:/{MODEL}/{version}")


def served(version: str) -> ServedModel:
    return ServedModel(MODEL, version, f"models:/{MODEL}/{version}")


def stored(api: SeldonOperatorApi) -> dict[str, Any]:
    return api.objects[KEY]


def table(api: SeldonOperatorApi) -> dict[str, Any]:
    """{predictor name: traffic as stored (None when the key is absent), or 'shadow'}."""
    return {
        p["name"]: "shadow" if p.get("shadow") else p.get("traffic")
        for p in stored(api)["spec"]["predictors"]
    }


def patches(api: SeldonOperatorApi) -> list[Any]:
    return [call[-1] for call in api.calls if call[0] == "patch"]


def writes(api: SeldonOperatorApi) -> list[str]:
    return [call[0] for call in api.calls if call[0] in ("create", "replace", "patch", "delete")]


def roles(traffic: SeldonTraffic) -> dict[str, tuple[str, int]]:
    return {v.version: (v.role, v.traffic_percent) for v in traffic.status("production").variants}


# --------------------------------------------------------------------------------------------
# start_variant


# the operator names it after the predictor and its containers (model, log-shipper)
V4_DEPLOYMENT = f"{NAME}-v4-0-model-log-shipper"


def test_start_variant_adds_a_0_traffic_predictor_and_waits_for_the_operator(traffic, api, clock):
    seen: list[tuple[str, str, int]] = []

    def verify(url: str) -> None:  # records what the operator reported when verify ran
        status = stored(api)["status"]
        seen.append((url, status["state"], status["deploymentStatus"][V4_DEPLOYMENT]
                     ["availableReplicas"]))  # fmt: skip

    traffic.start_variant("production", ref("4"), verify)

    assert seen == [(V4_URL, "Available", 2)]  # its own Service, once its 2 pods were up
    assert clock.now > 0  # it polled the operator
    assert table(api) == {"stable": 100, "v4": None}  # the webhook drops a traffic of 0
    assert writes(api) == ["patch"]  # one guarded patch, never a replace
    (ops,) = patches(api)
    assert ops[0] == {"op": "test", "path": "/spec/predictors/0/name", "value": "stable"}
    (added,) = [op for op in ops if op["path"] == "/spec/predictors/-"]
    assert added["op"] == "add" and added["value"]["traffic"] == 0
    assert added["value"]["graph"]["parameters"][2] == {
        "name": "model_version",
        "value": "4",
        "type": "STRING",
    }
    assert roles(traffic) == {"3": ("stable", 100), "4": ("idle", 0)}


@pytest.mark.parametrize("failure", ["verify", "operator"])
def test_a_failed_candidate_is_removed_and_the_stable_left_exactly_as_before(traffic, api, failure):
    before = copy.deepcopy(stored(api))

    def verify(url: str) -> None:
        raise AssertionError("v4 answered 0.0 for every row")

    if failure == "operator":
        api.failing.add("4")
        with pytest.raises(ServingError, match=f"'{NAME}' in namespace '{NAMESPACE}' failed"):
            traffic.start_variant("production", ref("4"), print)
    else:
        with pytest.raises(AssertionError, match="0.0 for every row"):
            traffic.start_variant("production", ref("4"), verify)

    after = stored(api)
    assert after["spec"] == before["spec"]
    assert after["metadata"]["labels"] == before["metadata"]["labels"]
    assert after["metadata"]["annotations"] == before["metadata"]["annotations"]
    assert writes(api) == ["patch", "patch"]  # added, then taken out again
    assert traffic.status("production").healthy


def test_starting_a_version_that_already_runs_only_verifies_it_again(traffic, api):
    traffic.start_variant("production", ref("4"), print)
    seen: list[str] = []
    traffic.start_variant("production", ref("4"), seen.append)
    assert seen == [V4_URL]
    assert writes(api) == ["patch"]


def test_an_unreachable_predictor_says_where_the_release_must_run(traffic, api):
    import requests

    def verify(url: str) -> None:
        requests.post(url, json={}, timeout=2)

    with pytest.raises(ServingError, match="resolves inside the cluster only"):
        traffic.start_variant("production", ref("4"), verify)
    assert table(api) == {"stable": 100}


# --------------------------------------------------------------------------------------------
# set_traffic and stop_variant


def test_set_traffic_patches_only_the_traffic_fields_guarded_by_test_ops(traffic, api, clock):
    traffic.start_variant("production", ref("4"), print)
    api.calls.clear()
    polled_from = clock.now

    traffic.set_traffic("production", {"3": ("stable", 90), "4": ("canary", 10)})

    assert writes(api) == ["patch"]
    (ops,) = patches(api)
    assert ops[:2] == [
        {"op": "test", "path": "/spec/predictors/0/name", "value": "stable"},
        {"op": "test", "path": "/spec/predictors/1/name", "value": "v4"},
    ]
    spec_ops = [op for op in ops if op["path"].startswith("/spec/")]
    assert spec_ops[2:] == [
        {"op": "add", "path": "/spec/predictors/0/traffic", "value": 90},
        {"op": "add", "path": "/spec/predictors/1/traffic", "value": 10},
    ]
    assert {op["op"] for op in ops} <= {"test", "add", "remove"}
    assert all(op["path"].startswith("/metadata/") for op in ops if op not in spec_ops)
    assert table(api) == {"stable": 90, "v4": 10}
    assert [c[0] for c in api.calls if c[0] == "get"]  # it read the status back
    assert clock.now == polled_from  # a weight change restarts no pod: Available at once
    assert roles(traffic) == {"3": ("stable", 90), "4": ("canary", 10)}
    labels = stored(api)["metadata"]["labels"]
    assert (labels["ml-cicd/canary-version"], labels["ml-cicd/rollout"]) == ("4", "canary")


@pytest.mark.parametrize(
    ("assignments", "message"),
    [
        ({"3": ("canary", 100)}, "exactly one stable version is required, got 0"),
        (
            {"3": ("stable", 50), "4": ("stable", 50)},
            "exactly one stable version is required, got 2",
        ),
        ({"3": ("stable", 80), "4": ("canary", 10)}, "must sum to 100, got 90"),
        ({"3": ("stable", 101)}, "weight must be an integer in 0..100"),
        ({"3": ("stable", True)}, "weight must be an integer in 0..100"),
        ({"3": ("stable", 90), "4": ("shadow", 10)}, "a shadow version takes no client traffic"),
        ({"3": ("stable", 100), "4": ("mirror", 0)}, "role 'mirror' is not one of"),
        ({"3": ("stable", 80), "4": ("canary", 10), "5": ("canary", 10)}, "at most one canary"),
    ],
)
def test_invalid_tables_are_refused_before_any_api_call(traffic, api, assignments, message):
    with pytest.raises(ServingError, match=f"invalid traffic for production: .*{message}"):
        traffic.set_traffic("production", assignments)
    assert api.calls == []


def test_an_unknown_version_is_refused_before_any_write(traffic, api):
    with pytest.raises(ServingError, match=r"cannot route to v7 in production: not running"):
        traffic.set_traffic("production", {"3": ("stable", 90), "7": ("canary", 10)})
    assert writes(api) == []


def test_stop_variant_removes_the_predictor_and_refuses_the_stable(traffic, api):
    traffic.start_variant("production", ref("4"), print)
    traffic.set_traffic("production", {"3": ("stable", 90), "4": ("canary", 10)})
    with pytest.raises(ServingError, match="v3 is the stable version of production"):
        traffic.stop_variant("production", "3")

    assert traffic.stop_variant("production", "4") is True  # its 10 % go back to the stable
    assert table(api) == {"stable": 100}
    assert traffic.stop_variant("production", "4") is False
    assert roles(traffic) == {"3": ("stable", 100)}
    assert stored(api)["metadata"]["labels"]["ml-cicd/rollout"] == "single"
    assert "ml-cicd/canary-version" not in stored(api)["metadata"]["labels"]


def test_a_shadow_is_a_mirror_predictor_without_traffic(traffic, api, clock):
    traffic.start_variant("production", ref("4"), print)
    started = clock.now
    traffic.set_traffic("production", {"3": ("stable", 100), "4": ("shadow", 0)})
    v4 = stored(api)["spec"]["predictors"][1]
    assert (v4.get("shadow"), "traffic" in v4) == (True, False)
    assert clock.now > started  # `shadow` is in the pod template: it waited for the new pods
    assert roles(traffic) == {"3": ("stable", 100), "4": ("shadow", 0)}

    traffic.set_traffic("production", {"3": ("stable", 100)})
    assert table(api) == {"stable": 100, "v4": None}
    assert {"op": "remove", "path": "/spec/predictors/1/shadow"} in patches(api)[-1]
    assert roles(traffic) == {"3": ("stable", 100), "4": ("idle", 0)}


def test_a_previous_version_stays_warm_then_is_removed(traffic, api):
    traffic.start_variant("production", ref("4"), print)
    traffic.set_traffic(
        "production", {"4": ("stable", 100), "3": ("previous", 0)}, retire_after_seconds=3600
    )
    status = traffic.status("production")
    assert status.state is not None and status.state.model_version == "4"
    (warm,) = [v for v in status.variants if v.role == "previous"]
    assert (warm.version, warm.traffic_percent, warm.healthy, bool(warm.retire_at)) == (
        "3",
        0,
        True,
        True,
    )
    traffic.set_traffic(  # the instant switch-back a rollback of blue/green does
        "production", {"3": ("stable", 100), "4": ("previous", 0)}, retire_after_seconds=0
    )
    assert table(api) == {"stable": 100, "v4": None}
    assert roles(traffic) == {"3": ("stable", 100)}  # status removed the expired one
    assert table(api) == {"stable": 100}


def test_status_lists_every_predictor_with_its_role_share_and_replicas(traffic, api):
    traffic.start_variant("production", ref("4"), print)
    traffic.set_traffic("production", {"3": ("stable", 50), "4": ("canary", 50)})
    status = traffic.status("production")
    assert (status.running, status.healthy, status.detail, status.router) == (
        True,
        True,
        "healthy",
        None,
    )
    assert [(v.version, v.role, v.traffic_percent, v.port, v.pid, v.running, v.healthy)
            for v in status.variants] == [
        ("3", "stable", 50, 0, 0, True, True),
        ("4", "canary", 50, 0, 0, True, True),
    ]  # fmt: skip
    assert status.variants[1].started_at
    assert json.loads(json.dumps(status.to_dict()))["variants"][1]["role"] == "canary"
    assert status.state is not None and status.state.url == traffic.url("production")


def test_a_concurrent_change_fails_the_patch_with_a_clear_error(traffic, api):
    traffic.start_variant("production", ref("4"), print)
    original = api.patch_namespaced_custom_object

    def someone_else_first(group, version, namespace, plural, name, body):
        api.patch_namespaced_custom_object = original
        reordered = copy.deepcopy(stored(api))  # another writer reorders the predictors
        reordered["spec"]["predictors"].reverse()
        reordered.pop("status")
        api.replace_namespaced_custom_object(group, version, namespace, plural, name, reordered)
        return original(group, version, namespace, plural, name, body)

    api.patch_namespaced_custom_object = someone_else_first
    with pytest.raises(ServingError) as info:
        traffic.set_traffic("production", {"3": ("stable", 90), "4": ("canary", 10)})
    message = str(info.value)
    assert "changed while the change was prepared" in message
    assert "['stable', 'v4']" in message and "['v4', 'stable']" in message
    assert "nothing was changed" in message
    assert table(api) == {"v4": None, "stable": 100}  # the other writer's document, untouched


# --------------------------------------------------------------------------------------------
# the rollout record, the metrics source, the JSON patch on the wire


def test_the_rollout_record_is_an_annotation_written_by_merge_patch(traffic, api, serving):
    record = {"strategy": "canary", "state": "running", "step": "canary 10 %", "verdicts": []}
    traffic.write_rollout("production", record)
    assert traffic.read_rollout("production") == record
    assert patches(api)[-1] == {
        "metadata": {"annotations": {"ml-cicd/rollout-record": json.dumps(record, sort_keys=True)}}
    }
    assert traffic.status("production").rollout == record
    traffic.write_rollout("production", None)
    assert traffic.read_rollout("production") is None
    assert "ml-cicd/rollout-record" not in stored(api)["metadata"]["annotations"]

    serving.stop("production")
    assert traffic.read_rollout("production") is None
    traffic.write_rollout("production", record)  # nothing deployed: nothing to annotate
    assert KEY not in api.objects


def test_metrics_source_needs_the_prometheus_url_and_selects_the_environment(
    traffic, serving, monkeypatch
):
    serving.prometheus = PrometheusConfig(url=None)
    with pytest.raises(ServingError, match=r"set kubernetes\.serving\.prometheus\.url in the"):
        traffic.metrics_source("production", MODEL)

    made: list[tuple[Any, ...]] = []

    class Recording(traffic_module.PrometheusMetricsSource):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            made.append((args, kwargs))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(traffic_module, "PrometheusMetricsSource", Recording)
    serving.prometheus = PrometheusConfig(
        url="http://prometheus-operated.monitoring.svc:9090",
        selectors={"job": "model-pods"},
        scrape_interval_seconds=30,
    )
    source = traffic.metrics_source("production", MODEL)
    assert isinstance(source, Recording)
    assert made == [
        (
            (
                "http://prometheus-operated.monitoring.svc:9090",
                MODEL,
                {"job": "model-pods", "namespace": NAMESPACE, "seldon_deployment_id": NAME},
                5.0,
            ),
            {"scrape_interval": 30.0},
        )
    ]
    assert traffic.shadow_pairs("production", "2024-01-01T00:00:00+00:00") == []


def test_the_base_config_points_at_the_in_cluster_prometheus():
    config, _ = load_config("production")
    prometheus = config.kubernetes.serving.prometheus
    assert prometheus.url == "http://prometheus-operated.monitoring.svc:9090"
    assert (prometheus.namespace_label, prometheus.deployment_label) == (
        "namespace",
        "seldon_deployment_id",
    )
    with pytest.raises(ValueError, match="not a Prometheus label name"):
        PrometheusConfig(deployment_label="seldon-deployment-id")


@pytest.fixture
def api_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A stand-in for the Kubernetes API server's PATCH endpoint, recording what arrives."""
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PATCH(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append({"path": self.path, "type": self.headers["Content-Type"], "body": body})
            answer = json.dumps({"kind": "SeldonDeployment", "metadata": {"name": "x"}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()


def test_the_real_client_sends_a_list_as_a_json_patch_and_a_mapping_as_a_merge_patch(api_server):
    from kubernetes.client import ApiClient, Configuration

    from mlcicd.serving.kubernetes.json_patch_api import JsonPatchingApi

    host, seen = api_server
    configuration = Configuration(host=host)
    api = JsonPatchingApi(ApiClient(configuration))
    ops = [{"op": "test", "path": "/spec/predictors/0/name", "value": "stable"}]
    answer = api.patch_namespaced_custom_object(
        "machinelearning.seldon.io", "v1", NAMESPACE, PLURAL, NAME, ops
    )
    api.patch_namespaced_custom_object(
        "machinelearning.seldon.io", "v1", NAMESPACE, PLURAL, NAME, {"metadata": {}}
    )
    path = f"/apis/machinelearning.seldon.io/v1/namespaces/{NAMESPACE}/{PLURAL}/{NAME}"
    assert seen == [
        {"path": path, "type": "application/json-patch+json", "body": ops},
        {"path": path, "type": "application/merge-patch+json", "body": {"metadata": {}}},
    ]
    assert answer["kind"] == "SeldonDeployment"


# --------------------------------------------------------------------------------------------
# the rollout engine end to end


LATENCY = ((0.005, 990.0), (0.0075, 1000.0), (math.inf, 1000.0))
PROBABILITIES = tuple((round(b / 10, 1), 100.0 * b) for b in range(1, 10)) + ((math.inf, 1000.0),)


class Windows:
    """A MetricsSource whose windows are healthy, except the errors given per version."""

    def __init__(self, errors: dict[str, float] | None = None) -> None:
        self.errors = errors or {}

    def mark(self) -> Mark:
        return Mark("test", time.monotonic())

    def window(self, since: Mark, versions: Sequence[str]) -> dict[str, VariantWindow]:
        return {
            v: VariantWindow(v, 1000.0, self.errors.get(v, 0.0), LATENCY, PROBABILITIES, 30.0)
            for v in versions
        }


def canary_config() -> RolloutConfig:
    steps = [
        CanaryStep(weight=10, min_seconds=0.01, min_requests=100),
        CanaryStep(weight=50, min_seconds=0.01, min_requests=100),
    ]
    return RolloutConfig(
        strategy="canary",
        analysis=AnalysisConfig(interval_seconds=0.01),
        canary=CanaryConfig(steps=steps, max_step_seconds=5),
        candidate_ready_seconds=60,
    )


def traffic_history(api: SeldonOperatorApi) -> list[dict[str, int | str]]:
    """The traffic after each write, consecutive repeats (record writes) folded."""
    folded: list[dict[str, int | str]] = []
    for entry in api.history:
        if not folded or folded[-1] != entry:
            folded.append(entry)
    return folded


def test_a_healthy_canary_goes_10_50_100_and_ends_single_predictor_on_the_candidate(traffic, api):
    verified: list[str] = []
    result = run_rollout(
        traffic, canary_config(), "production", ref("4"), verified.append, lambda _: None,
        metrics=Windows(),
    )  # fmt: skip

    assert result.promoted and [v.outcome for v in result.verdicts] == ["healthy", "healthy"]
    assert verified == [V4_URL]
    assert traffic_history(api)[-5:] == [
        {"3": 100, "4": 0},
        {"3": 90, "4": 10},
        {"3": 50, "4": 50},
        {"3": 0, "4": 100},
        {"4": 100},
    ]
    (predictor,) = stored(api)["spec"]["predictors"]
    assert (predictor["name"], predictor["traffic"]) == ("v4", 100)
    status = traffic.status("production")
    assert status.healthy and status.state is not None and status.state.model_version == "4"
    assert [(v.version, v.role) for v in status.variants] == [("4", "stable")]
    assert status.rollout is not None and status.rollout["state"] == "succeeded"
    assert stored(api)["metadata"]["labels"]["ml-cicd/stable-version"] == "4"
    assert writes(api).count("replace") == 0  # every step was a patch


def test_a_breaching_canary_returns_all_traffic_to_the_stable_only(traffic, api):
    before = copy.deepcopy(stored(api)["spec"])
    with pytest.raises(RolloutAborted, match="canary 10 %: error rate 5.00%"):
        run_rollout(
            traffic, canary_config(), "production", ref("4"), print, lambda _: None,
            metrics=Windows({"4": 50.0}),
        )  # fmt: skip
    assert traffic_history(api)[-3:] == [{"3": 90, "4": 10}, {"3": 100, "4": 0}, {"3": 100}]
    assert stored(api)["spec"] == before
    status = traffic.status("production")
    assert [(v.version, v.role, v.traffic_percent) for v in status.variants] == [
        ("3", "stable", 100)
    ]
    assert status.rollout is not None and status.rollout["state"] == "rolled_back"


def test_restart_and_a_direct_deploy_still_work_after_a_rollout(traffic, api, serving, monkeypatch):
    run_rollout(
        traffic, canary_config(), "production", ref("4"), print, lambda _: None,
        metrics=Windows(),
    )  # fmt: skip
    assert serving.restart("production").model_version == "4"  # the stable predictor is v4

    # deploy's ingress check needs the ingress (tests/stack/test_kubernetes_serving.py)
    monkeypatch.setattr(serving, "_wait_served_version", lambda backend, version: None)
    verified: list[str] = []
    state = serving.deploy("production", ref("5"), verified.append)
    assert (state.model_version, verified) == ("5", [traffic.url("production")])
    assert table(api) == {"stable": 100}
    assert traffic.read_rollout("production")["state"] == "succeeded"  # the last one, kept


def test_long_names_follow_seldons_md5_rule():
    import hashlib

    from mlcicd.serving.kubernetes.variants import deployment_keys, predictor_url

    sdep = "a" * 50
    document = {"metadata": {"name": sdep}, "spec": {"predictors": []}}
    predictor = {
        "name": "v12345",
        "componentSpecs": [{"spec": {"containers": [{"name": "model"}]}}],
    }
    long_name = f"{sdep}-v12345-0-model"  # 65 characters
    digest = hashlib.md5(long_name.encode(), usedforsecurity=False).hexdigest()
    assert deployment_keys(document, predictor) == [f"seldon-{digest}", f"{sdep}-{digest}"]
    assert predictor_url(document, "ml-serving", predictor) == (
        f"http://{sdep}-v12345.ml-serving.svc.cluster.local:8000/api/v1.0/predictions"
    )
