"""SeldonDeployment documents (machinelearning.seldon.io/v1) for the gpu-k8s stack.

ZenML's Seldon deployer only emits one predictor, so canary (`predictors[].traffic`) and shadow
(`predictors[].shadow`) resources are built here, as plain dicts, from the serving contract in
`mlcicd.serving.server.protocol`. Pure functions: nothing here talks to a cluster, so every
document can be reviewed as YAML and compared with golden files in tests. What is served where
(`SeldonTarget`, `ServedModel`) and the Kubernetes name rules are in `targets`.

Seldon Core v1 conventions these documents rely on:
- The operator matches a graph node to the container of the same name and gives the first model
  container the REST port 9000 (named `http`); we declare it so probes can target it by name.
- Graph `parameters` reach the container as PREDICTIVE_UNIT_PARAMETERS and are parsed by
  seldon-core by their `type` (INT, FLOAT, DOUBLE, STRING, BOOL only; values are strings).
- Predictor `labels.version` is the label the Istio subsets of a multi-predictor deployment use;
  the operator defaults it to the predictor name, we set it explicitly.
- Traffic of non-shadow predictors must sum to 100 (the admission webhook rejects it otherwise).
"""

from __future__ import annotations

import copy
from typing import Any

from mlcicd.serving.kubernetes.targets import (
    CANARY,
    GRAPH_NODE_NAME,
    SHADOW,
    STABLE,
    RequestLogSink,
    SeldonTarget,
    ServedModel,
    label_value,
    pull_policy,
    validate_dns_label,
    validate_replicas,
)
from mlcicd.serving.server.protocol import (
    LIVENESS_PATH,
    MODEL_SERVER_CLASS,
    READINESS_PATH,
    ServerOptions,
)

API_GROUP = "machinelearning.seldon.io"
API_VERSION = "v1"
PLURAL = "seldondeployments"
KIND = "SeldonDeployment"

HTTP_PORT = 9000
"""seldon-core-microservice's default REST port and the operator's first HTTP port."""
HTTP_PORT_NAME = "http"
REQUEST_LOG_DIR = "/var/log/ml-cicd"
"""An emptyDir mount, so the non-root server can append its request log in any image layout."""
REQUEST_LOG_PATH = f"{REQUEST_LOG_DIR}/requests.jsonl"
SHIPPER_CONTAINER = "log-shipper"
"""The sidecar that ships the request log to S3 (`mlcicd.serving.server.log_shipper`)."""
SHIPPER_STATE_DIR = f"{REQUEST_LOG_DIR}/shipper"
"""On the same emptyDir as the log: a restarted shipper container resumes from there."""

LABEL_PREFIX = "ml-cicd"
MANAGED_BY = "ml-cicd"


def single_predictor(target: SeldonTarget, model: ServedModel) -> dict[str, Any]:
    """Everything on one version: the normal state, and the state after promote or rollback."""
    return _deployment(
        target,
        rollout="single",
        predictors=[_predictor(target, STABLE, model, traffic=100)],
        models={STABLE: model},
    )


def canary(
    target: SeldonTarget,
    stable: ServedModel,
    candidate: ServedModel,
    candidate_traffic_percent: int,
    candidate_replicas: int | None = None,
) -> dict[str, Any]:
    """Split live traffic: the candidate answers `candidate_traffic_percent` % of requests."""
    if (
        isinstance(candidate_traffic_percent, bool)
        or not isinstance(candidate_traffic_percent, int)
        or not 0 < candidate_traffic_percent < 100
    ):
        raise ValueError(
            "candidate_traffic_percent must be an integer strictly between 0 and 100, got "
            f"{candidate_traffic_percent!r} (0 is the single-predictor deployment, 100 a "
            "promotion)"
        )
    _require_distinct(stable, candidate)
    predictors = [
        _predictor(target, STABLE, stable, traffic=100 - candidate_traffic_percent),
        _predictor(
            target,
            CANARY,
            candidate,
            traffic=candidate_traffic_percent,
            replicas=candidate_replicas,
        ),
    ]
    return _deployment(
        target, rollout="canary", predictors=predictors, models={STABLE: stable, CANARY: candidate}
    )


def shadow(
    target: SeldonTarget,
    stable: ServedModel,
    candidate: ServedModel,
    candidate_replicas: int | None = None,
) -> dict[str, Any]:
    """Mirror live traffic to the candidate; clients only ever see the stable answers."""
    _require_distinct(stable, candidate)
    predictors = [
        _predictor(target, STABLE, stable, traffic=100),
        _predictor(target, SHADOW, candidate, shadow=True, replicas=candidate_replicas),
    ]
    return _deployment(
        target, rollout="shadow", predictors=predictors, models={STABLE: stable, SHADOW: candidate}
    )


def variant_predictor(
    target: SeldonTarget, name: str, model: ServedModel, traffic: int = 0
) -> dict[str, Any]:
    """One more predictor beside what serves (a rollout's candidate), with no traffic yet.

    Added to a stored document by a JSON patch (mlcicd/serving/kubernetes/traffic.py), so the
    predictors already there, and their pods, are left exactly as they are.
    """
    return _predictor(target, name, model, traffic=traffic)


def _require_distinct(stable: ServedModel, candidate: ServedModel) -> None:
    if (stable.model_uri, stable.model_version) == (candidate.model_uri, candidate.model_version):
        raise ValueError(
            f"stable and candidate are the same model ({stable.model_uri}): nothing to compare"
        )


def _deployment(
    target: SeldonTarget,
    rollout: str,
    predictors: list[dict[str, Any]],
    models: dict[str, ServedModel],
) -> dict[str, Any]:
    names = {model.model_name for model in models.values()}
    labels = {
        "app.kubernetes.io/name": target.deployment_name,
        "app.kubernetes.io/component": "model-server",
        "app.kubernetes.io/part-of": "ml-cicd",
        "app.kubernetes.io/managed-by": MANAGED_BY,
        f"{LABEL_PREFIX}/rollout": rollout,
    }
    if len(names) == 1:
        labels[f"{LABEL_PREFIX}/model-name"] = label_value(next(iter(names)))
    annotations = {f"{LABEL_PREFIX}/model-server-class": MODEL_SERVER_CLASS}
    for predictor, model in models.items():
        labels[f"{LABEL_PREFIX}/{predictor}-version"] = label_value(model.model_version)
        annotations[f"{LABEL_PREFIX}/{predictor}-model"] = (
            f"{model.model_name} version {model.model_version}"
        )
        annotations[f"{LABEL_PREFIX}/{predictor}-model-uri"] = model.model_uri
    return {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": KIND,
        "metadata": {
            "name": target.deployment_name,
            "namespace": target.namespace,
            "labels": labels,
            "annotations": annotations,
        },
        "spec": {
            "name": target.deployment_name,
            "protocol": "seldon",
            "transport": "rest",
            "predictors": predictors,
        },
    }


def _parameters(target: SeldonTarget, model: ServedModel) -> list[dict[str, str]]:
    """The contract's parameters; seldon-core only parses INT/FLOAT/DOUBLE/STRING/BOOL."""
    return [
        {"name": "model_uri", "value": model.model_uri, "type": "STRING"},
        {"name": "model_name", "value": model.model_name, "type": "STRING"},
        {"name": "model_version", "value": model.model_version, "type": "STRING"},
        {"name": "request_log", "value": REQUEST_LOG_PATH, "type": "STRING"},
        *ServerOptions(target.max_rows, target.runtime, target.threads).parameters(),
    ]


def _probe(path: str, **timing: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": HTTP_PORT_NAME, "scheme": "HTTP"}, **timing}


def _container(target: SeldonTarget) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": GRAPH_NODE_NAME,
        "image": target.image,
        "imagePullPolicy": pull_policy(target.image),
        "ports": [{"name": HTTP_PORT_NAME, "containerPort": HTTP_PORT, "protocol": "TCP"}],
        "env": [{"name": "MLFLOW_TRACKING_URI", "value": target.mlflow_tracking_uri}],
    }
    if target.storage_secret_name:
        container["envFrom"] = [{"secretRef": {"name": target.storage_secret_name}}]
    container.update(
        {
            "resources": copy.deepcopy(target.resources),
            # Loading a model from the registry can take minutes: the startup probe holds the
            # liveness probe back until the server answers at all.
            "startupProbe": _probe(LIVENESS_PATH, periodSeconds=5, failureThreshold=60),
            "readinessProbe": _probe(
                READINESS_PATH, periodSeconds=5, timeoutSeconds=5, failureThreshold=3
            ),
            "livenessProbe": _probe(
                LIVENESS_PATH, periodSeconds=10, timeoutSeconds=5, failureThreshold=3
            ),
            "volumeMounts": [{"name": "request-log", "mountPath": REQUEST_LOG_DIR}],
            "securityContext": copy.deepcopy(target.container_security_context),
        }
    )
    return container


def shipper_command(sink: RequestLogSink) -> list[str]:
    """The sidecar's command: the serving image's log shipper, state on the request-log emptyDir."""
    command = [
        "python", "-m", "mlcicd.serving.server.log_shipper",
        "--log", REQUEST_LOG_PATH,
        "--state-dir", SHIPPER_STATE_DIR,
        "--url", sink.url,
        "--upload-every", f"{sink.upload_interval_seconds:g}",
        "--max-bytes", str(sink.max_object_bytes),
    ]  # fmt: skip
    if sink.endpoint_url:
        command += ["--endpoint-url", sink.endpoint_url]
    if sink.region:
        command += ["--region", sink.region]
    return command


def _shipper(target: SeldonTarget, sink: RequestLogSink) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": SHIPPER_CONTAINER,
        "image": target.image,
        "imagePullPolicy": pull_policy(target.image),
        "command": shipper_command(sink),
    }
    if target.storage_secret_name:  # AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, as the model's
        container["envFrom"] = [{"secretRef": {"name": target.storage_secret_name}}]
    container.update(
        {
            "resources": copy.deepcopy(sink.resources),
            "volumeMounts": [{"name": "request-log", "mountPath": REQUEST_LOG_DIR}],
            "securityContext": copy.deepcopy(target.container_security_context),
        }
    )
    return container


def _predictor(
    target: SeldonTarget,
    name: str,
    model: ServedModel,
    *,
    traffic: int | None = None,
    shadow: bool = False,
    replicas: int | None = None,
) -> dict[str, Any]:
    validate_dns_label(name, "predictor name")
    containers = [_container(target)]
    if target.request_log_sink is not None:
        containers.append(_shipper(target, target.request_log_sink))
    pod_spec: dict[str, Any] = {
        "containers": containers,
        "volumes": [{"name": "request-log", "emptyDir": {}}],
    }
    if target.service_account:
        pod_spec["serviceAccountName"] = target.service_account
    if target.image_pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": name} for name in target.image_pull_secrets]
    if target.pod_security_context:
        pod_spec["securityContext"] = copy.deepcopy(target.pod_security_context)
    predictor: dict[str, Any] = {
        "name": name,
        "replicas": validate_replicas(target.replicas if replicas is None else replicas),
    }
    if traffic is not None:
        predictor["traffic"] = traffic
    if shadow:
        predictor["shadow"] = True
    predictor.update(
        {
            "labels": {
                "version": name,
                f"{LABEL_PREFIX}/model-name": label_value(model.model_name),
                f"{LABEL_PREFIX}/model-version": label_value(model.model_version),
            },
            "annotations": {f"{LABEL_PREFIX}/model-uri": model.model_uri},
            "graph": {
                "name": GRAPH_NODE_NAME,
                "type": "MODEL",
                "endpoint": {"type": "REST"},
                "parameters": _parameters(target, model),
                "children": [],
            },
            "componentSpecs": [{"spec": pod_spec}],
        }
    )
    return predictor
