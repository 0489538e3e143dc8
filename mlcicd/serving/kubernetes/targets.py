"""What a SeldonDeployment serves and where: the target, the model version, and name rules.

`SeldonTarget` (namespace, deployment name, image, ingress URL, resources) and `ServedModel` (one
explicit MLflow version) validate themselves on construction, so a document built from them is
accepted by the API server and the Seldon admission webhook. Names are rejected, never renamed:
a silently changed name would not be found again by status or delete. Pure functions, no cluster.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from mlcicd.config.kubernetes import PodPolicyConfig
from mlcicd.serving.server.protocol import DEFAULT_MAX_ROWS, DEFAULT_RUNTIME, PREDICTIONS_PATH

GRAPH_NODE_NAME = "model"
"""Graph node and container name: Seldon pairs them by name."""

STABLE = "stable"
CANARY = "canary"
SHADOW = "shadow"

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


def pull_policy(image: str) -> str:
    """IfNotPresent only for a digest (it cannot change); a tag is pulled again every start."""
    return "IfNotPresent" if "@sha256:" in image else "Always"


def _validate_resources(resources: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    unknown = set(resources) - {"requests", "limits"}
    if unknown:
        raise ValueError(
            f"resources may only hold 'requests' and 'limits', got {sorted(unknown)}; "
            "e.g. {'requests': {'cpu': '500m'}, 'limits': {'memory': '2Gi'}}"
        )
    return {kind: {str(k): str(v) for k, v in values.items()} for kind, values in resources.items()}


@dataclass(frozen=True)
class RequestLogSink:
    """Where one environment's model pods ship their request log: `s3://<bucket>/<prefix>/`."""

    bucket: str
    prefix: str
    endpoint_url: str | None = None
    region: str | None = None
    upload_interval_seconds: float = 300.0
    max_object_bytes: int = 50 * 1024 * 1024
    resources: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not re.match(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", self.bucket):
            raise ValueError(f"request log bucket {self.bucket!r} is not an S3 bucket name")
        prefix = self.prefix.strip("/")
        if not prefix or any(c.isspace() or c in "$%" for c in prefix):
            raise ValueError(
                f"request log prefix {self.prefix!r} must be a non-empty key prefix without "
                "spaces, '$' or '%'"
            )
        object.__setattr__(self, "prefix", prefix)
        if not 0 < self.upload_interval_seconds <= 3600:
            raise ValueError(
                f"upload_interval_seconds must be in (0, 3600], got {self.upload_interval_seconds}"
            )
        if self.max_object_bytes < 1:
            raise ValueError(f"max_object_bytes must be at least 1, got {self.max_object_bytes}")
        object.__setattr__(self, "resources", _validate_resources(self.resources))

    @property
    def url(self) -> str:
        """The folder the shipper writes and the monitor reads (`<url>/**/*.jsonl`)."""
        return f"s3://{self.bucket}/{self.prefix}"


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
    runtime: str = DEFAULT_RUNTIME
    """What the server runs: the version's ONNX export (`onnx`) or its MLflow pyfunc."""
    threads: int = 1
    request_log_sink: RequestLogSink | None = None
    """The log-shipping sidecar of every predictor pod; None: the log stays in the pod."""
    image_pull_secrets: tuple[str, ...] = ()
    """dockerconfigjson Secrets in the namespace the nodes pull the serving image with."""
    pod_security_context: dict[str, Any] = field(
        default_factory=lambda: PodPolicyConfig().pod_security_context()
    )
    """Pod-level: also covers the executor container the Seldon operator injects."""
    container_security_context: dict[str, Any] = field(
        default_factory=PodPolicyConfig.container_security_context
    )

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
        for secret in self.image_pull_secrets:
            validate_dns_label(secret, "image pull secret", 253)
        validate_replicas(self.replicas)
        if isinstance(self.max_rows, bool) or not isinstance(self.max_rows, int):
            raise ValueError(f"max_rows must be an integer, got {self.max_rows!r}")
        if self.max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, got {self.max_rows}")
        if self.runtime not in ("onnx", "pyfunc"):
            raise ValueError(f"runtime must be 'onnx' or 'pyfunc', got {self.runtime!r}")
        if isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1:
            raise ValueError(f"threads must be a positive integer, got {self.threads!r}")
        object.__setattr__(self, "resources", _validate_resources(self.resources))


def validate_replicas(replicas: int) -> int:
    """A predictor's replica count: an integer of at least 1 (bools are not integers here)."""
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
