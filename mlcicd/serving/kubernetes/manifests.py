"""SeldonDeployment documents (machinelearning.seldon.io/v1) for the gpu-k8s stack.

ZenML's Seldon deployer only emits one predictor, so canary (`predictors[].traffic`) and shadow
(`predictors[].shadow`) resources are built here, as plain dicts, from the serving contract in
`mlcicd.serving.server.protocol`. Pure functions: nothing here talks to a cluster, so every
document can be reviewed as YAML and compared with golden files in tests.

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
import re
from dataclasses import dataclass, field
from typing import Any

from mlcicd.serving.server.protocol import (
    DEFAULT_MAX_ROWS,
    LIVENESS_PATH,
    MODEL_SERVER_CLASS,
    PREDICTIONS_PATH,
    READINESS_PATH,
)

API_GROUP = "machinelearning.seldon.io"
API_VERSION = "v1"
PLURAL = "seldondeployments"
KIND = "SeldonDeployment"

GRAPH_NODE_NAME = "model"
"""Graph node and container name: Seldon pairs them by name."""
HTTP_PORT = 9000
"""seldon-core-microservice's default REST port and the operator's first HTTP port."""
HTTP_PORT_NAME = "http"
REQUEST_LOG_DIR = "/var/log/ml-cicd"
"""An emptyDir mount, so the non-root server can append its request log in any image layout."""
REQUEST_LOG_PATH = f"{REQUEST_LOG_DIR}/requests.jsonl"

STABLE = "stable"
CANARY = "canary"
SHADOW = "shadow"

LABEL_PREFIX = "ml-cicd"
MANAGED_BY = "ml-cicd"

DEFAULT_RESOURCES: dict[str, dict[str, str]] = {
    "requests": {"cpu": "500m", "memory": "1Gi"},
    "limits": {"cpu": "2", "memory": "2Gi"},
}

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_VERSION = re.compile(r"^[1-9][0-9]*$")
_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>[^/@]+)$")
_ALIAS_WORDS = {"latest", "champion", "challenger", "staging", "production", "archived", "none"}

MAX_LABEL_LENGTH = 63
_LONGEST_PREDICTOR = max(len(STABLE), len(CANARY), len(SHADOW))
MAX_DEPLOYMENT_NAME_LENGTH = MAX_LABEL_LENGTH - len(
    f"-{'x' * _LONGEST_PREDICTOR}-{GRAPH_NODE_NAME}"
)
"""The operator names Services `<deployment>-<predictor>[-<container>]`: those must fit 63 too."""


def dns_label(text: str, max_length: int = MAX_LABEL_LENGTH) -> str:
    """Turn free text (a model name, say) into a DNS-1123 label, for callers deriving names."""
    label = re.sub(r"[^a-z0-9-]+", "-", text.lower())
    label = re.sub(r"-{2,}", "-", label).strip("-")[:max_length].rstrip("-")
    if not label:
        raise ValueError(f"cannot derive a Kubernetes name from {text!r}: no letters or digits")
    return label


def label_value(text: str) -> str:
    """Make any string a valid label value (<= 63 chars, alphanumeric at both ends)."""
    value = re.sub(r"[^A-Za-z0-9_.-]+", "-", text)[:MAX_LABEL_LENGTH]
    value = re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", value)
    if not _LABEL_VALUE.match(value):  # pragma: no cover - the substitutions above guarantee it
        raise ValueError(f"cannot make a Kubernetes label value from {text!r}")
    return value


def validate_dns_label(value: str, what: str, max_length: int = MAX_LABEL_LENGTH) -> str:
    """Reject, never rename: a silently changed name would not be found again by status/delete."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    if len(value) > max_length or not _DNS_LABEL.match(value):
        hint = ""
        if any(c.isalnum() for c in value):
            hint = f" (suggestion: {dns_label(value, max_length)!r})"
        raise ValueError(
            f"{what} {value!r} is not a valid DNS-1123 label: use at most {max_length} lowercase "
            f"letters, digits and '-', starting and ending with a letter or digit{hint}"
        )
    return value


def _validate_deployment_name(name: str) -> str:
    validate_dns_label(name, "SeldonDeployment name", MAX_DEPLOYMENT_NAME_LENGTH)
    if not _DNS_1035_LABEL.match(name):
        raise ValueError(
            f"SeldonDeployment name {name!r} must start with a letter: Seldon derives Service "
            "names from it, and Service names are DNS-1035 labels"
        )
    return name


def _validate_image(image: str) -> str:
    if not image or any(c.isspace() for c in image):
        raise ValueError(f"serving image must be a non-empty reference without spaces: {image!r}")
    last = image.rsplit("/", 1)[-1]
    if "@" not in image and ":" not in last:
        raise ValueError(
            f"serving image {image!r} has no tag or digest: pin one so a rollback serves the "
            "same code"
        )
    if "@" not in image and last.rsplit(":", 1)[1] == "latest":
        raise ValueError(f"serving image {image!r} uses the moving tag 'latest': pin a version")
    return image


def _validate_resources(resources: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    unknown = set(resources) - {"requests", "limits"}
    if unknown:
        raise ValueError(
            f"resources may only hold 'requests' and 'limits', got {sorted(unknown)}; "
            "e.g. {'requests': {'cpu': '500m'}, 'limits': {'memory': '2Gi'}}"
        )
    return {kind: {str(k): str(v) for k, v in values.items()} for kind, values in resources.items()}


@dataclass(frozen=True)
class SeldonTarget:
    """Where and how models are served on the cluster; one per SeldonDeployment."""

    namespace: str
    deployment_name: str
    image: str
    mlflow_tracking_uri: str
    base_url: str
    storage_secret_name: str | None = None
    """Kubernetes Secret (the ZenML deployer's kubernetes_secret_name) loaded with envFrom."""
    service_account: str | None = None
    resources: dict[str, dict[str, str]] = field(
        default_factory=lambda: copy.deepcopy(DEFAULT_RESOURCES)
    )
    replicas: int = 1
    max_rows: int = DEFAULT_MAX_ROWS

    def __post_init__(self) -> None:
        validate_dns_label(self.namespace, "namespace")
        _validate_deployment_name(self.deployment_name)
        _validate_image(self.image)
        if not self.mlflow_tracking_uri.strip():
            raise ValueError("mlflow_tracking_uri must not be empty: the server loads from MLflow")
        if not re.match(r"^https?://[^/\s]+", self.base_url):
            raise ValueError(
                f"base_url {self.base_url!r} must be the ingress URL, e.g. http://10.0.0.5 or "
                "https://models.example.com"
            )
        if self.storage_secret_name is not None:
            validate_dns_label(self.storage_secret_name, "storage secret name", 253)
        if self.service_account is not None:
            validate_dns_label(self.service_account, "service account", 253)
        _validate_replicas(self.replicas)
        if isinstance(self.max_rows, bool) or not isinstance(self.max_rows, int):
            raise ValueError(f"max_rows must be an integer, got {self.max_rows!r}")
        if self.max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, got {self.max_rows}")
        object.__setattr__(self, "resources", _validate_resources(self.resources))


def _validate_replicas(replicas: int) -> int:
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise ValueError(f"replicas must be an integer >= 1, got {replicas!r}")
    return replicas


@dataclass(frozen=True)
class ServedModel:
    """One registered MLflow model version, named explicitly so a rollout is reproducible."""

    model_name: str
    model_version: str
    model_uri: str

    def __post_init__(self) -> None:
        if not self.model_name.strip():
            raise ValueError("model_name must not be empty")
        version = str(self.model_version)
        if not _VERSION.match(version):
            hint = (
                " (that is an alias or stage: resolve it to its version number first, e.g. "
                "MlflowClient().get_model_version_by_alias(name, alias).version)"
                if version.lower() in _ALIAS_WORDS or "@" in version
                else ""
            )
            raise ValueError(
                f"model_version must be an explicit MLflow version number, got {version!r}{hint}"
            )
        object.__setattr__(self, "model_version", version)
        uri = self.model_uri.strip()
        if not uri:
            raise ValueError("model_uri must not be empty")
        if uri.startswith("models:"):
            match = _MODELS_URI.match(uri)
            if match is None or not _VERSION.match(match["version"]):
                raise ValueError(
                    f"model_uri {uri!r} does not name an explicit version: use "
                    f"models:/{self.model_name}/{version}, never an alias (@champion), a stage "
                    "or 'latest'"
                )
            if match["name"] != self.model_name or match["version"] != version:
                raise ValueError(
                    f"model_uri {uri!r} disagrees with model_name/model_version "
                    f"{self.model_name!r}/{version!r}"
                )
        object.__setattr__(self, "model_uri", uri)


def external_url(target: SeldonTarget) -> str:
    """The prediction URL through the Istio/Ambassador ingress (Seldon v1 path convention)."""
    return (
        f"{target.base_url.rstrip('/')}/seldon/{target.namespace}/{target.deployment_name}"
        f"{PREDICTIONS_PATH}"
    )


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
        {"name": "max_rows", "value": str(target.max_rows), "type": "INT"},
    ]


def _probe(path: str, **timing: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": HTTP_PORT_NAME, "scheme": "HTTP"}, **timing}


def _container(target: SeldonTarget) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": GRAPH_NODE_NAME,
        "image": target.image,
        "imagePullPolicy": "IfNotPresent",
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
            "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True},
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
    pod_spec: dict[str, Any] = {
        "containers": [_container(target)],
        "volumes": [{"name": "request-log", "emptyDir": {}}],
    }
    if target.service_account:
        pod_spec["serviceAccountName"] = target.service_account
    predictor: dict[str, Any] = {
        "name": name,
        "replicas": _validate_replicas(target.replicas if replicas is None else replicas),
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
