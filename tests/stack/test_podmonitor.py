"""The PodMonitor we document scrapes what the model pods serve, labelled as the PromQL reads it."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from mlcicd.config import load_config
from mlcicd.serving.kubernetes.manifests import canary
from mlcicd.serving.kubernetes.targets import SeldonTarget, ServedModel
from mlcicd.serving.server.metrics import METRICS_PATH

PODMONITOR = Path(__file__).resolve().parents[2] / "stacks/kubernetes/model-pods-podmonitor.yaml"


def _prometheus_label(name: str) -> str:
    """How the Prometheus Operator names a pod label it copies onto the series."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def test_the_podmonitor_matches_the_model_container_and_the_promql_labels() -> None:
    monitor = yaml.safe_load(PODMONITOR.read_text())
    assert (monitor["apiVersion"], monitor["kind"]) == ("monitoring.coreos.com/v1", "PodMonitor")
    spec = monitor["spec"]
    [endpoint] = spec["podMetricsEndpoints"]
    assert endpoint["path"] == METRICS_PATH
    target = SeldonTarget(
        namespace="ml-serving",
        deployment_name="adult-income",
        image="registry.example.com/ml-cicd/seldon-server:1.4.0",
        mlflow_tracking_uri="http://mlflow.mlflow.svc.cluster.local:5000",
        base_url="http://seldon.example.com",
    )
    stable, candidate = (ServedModel("m", v, f"models:/m/{v}") for v in ("3", "4"))
    document = canary(target, stable, candidate, 10, candidate_replicas=1)
    for predictor in document["spec"]["predictors"]:
        [container] = predictor["componentSpecs"][0]["spec"]["containers"]
        assert endpoint["port"] in {p["name"] for p in container["ports"]}
    [selected] = spec["selector"]["matchExpressions"]
    assert selected == {"key": "seldon-deployment-id", "operator": "Exists"}
    for name in ("staging", "production"):
        prometheus = load_config(name)[0].kubernetes.serving.prometheus
        assert prometheus.deployment_label in {
            _prometheus_label(label) for label in spec["podTargetLabels"]
        }
        assert endpoint["interval"] == f"{prometheus.scrape_interval_seconds:g}s"
