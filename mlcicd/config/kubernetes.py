"""What the gpu-k8s stack's pods get: GPUs, resources, the step image, Seldon serving.

Ignored on stacks without a Kubernetes orchestrator; validated everywhere so a typo is caught
before a cluster sees it.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, model_validator

from mlcicd.config.base import StrictModel

_QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$"
_PROMETHEUS_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def _check_resources(resources: dict[str, dict[str, str]], key: str) -> None:
    unknown = set(resources) - {"requests", "limits"}
    if unknown:
        raise ValueError(f"{key} may only hold 'requests' and 'limits', got {sorted(unknown)}")
    for kind, values in resources.items():
        for name, quantity in values.items():
            if not re.match(_QUANTITY, str(quantity)):
                raise ValueError(
                    f"{key}.{kind}.{name}: {quantity!r} is not a Kubernetes quantity "
                    "(e.g. '500m', '4', '16Gi')"
                )


class TolerationConfig(StrictModel):
    """A Kubernetes toleration, so GPU pods may land on tainted GPU nodes."""

    key: str
    operator: Literal["Exists", "Equal"] = "Exists"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = "NoSchedule"

    @model_validator(mode="after")
    def _value_matches_operator(self) -> TolerationConfig:
        if self.operator == "Exists" and self.value is not None:
            raise ValueError(f"toleration '{self.key}': operator Exists takes no value")
        if self.operator == "Equal" and self.value is None:
            raise ValueError(f"toleration '{self.key}': operator Equal needs a value")
        return self


class GpuConfig(StrictModel):
    """GPUs for the steps that train, requested through the orchestrator's pod settings.

    ZenML 0.98's Kubernetes orchestrator ignores ResourceSettings(gpu_count=...), so this is the
    only way a step pod gets a GPU. count 0 runs every step on CPU nodes.
    """

    count: int = Field(1, ge=0)
    resource_name: str = "nvidia.com/gpu"
    steps: list[str] = Field(default_factory=lambda: ["train_model"])
    node_selector: dict[str, str] = Field(
        default_factory=lambda: {"nvidia.com/gpu.present": "true"}
    )
    tolerations: list[TolerationConfig] = Field(
        default_factory=lambda: [TolerationConfig(key="nvidia.com/gpu")]
    )


class KubernetesImageConfig(StrictModel):
    """The step image: ZenML builds it on a parent image with the locked requirements."""

    # Built first (by the stack's image builder) as the parent image; relative to the repo root.
    parent_dockerfile: str | None = "stacks/kubernetes/Dockerfile.cuda"
    # A prebuilt CUDA + Python 3.12 image instead of parent_dockerfile (exactly one of the two).
    parent_image: str | None = None

    @model_validator(mode="after")
    def _exactly_one_parent(self) -> KubernetesImageConfig:
        if (self.parent_dockerfile is None) == (self.parent_image is None):
            raise ValueError(
                "kubernetes.image needs exactly one of 'parent_dockerfile' and 'parent_image'"
            )
        return self


class PrometheusConfig(StrictModel):
    """Where a rollout on Kubernetes reads each version's requests, errors, latency, predictions.

    A Prometheus that scrapes the model pods' `/metrics` (port `http`). Its series carry the
    server's own `model_name`/`model_version`; the two labels below are the scrape's, and tell
    the environments apart (staging and production run the same versions in one namespace).
    """

    # None: no analysis source; a canary/blue-green/shadow rollout then refuses to start.
    url: str | None = None
    # Label naming the pod's namespace (the Prometheus Operator adds `namespace`); None: unused.
    namespace_label: str | None = "namespace"
    # Label naming the SeldonDeployment, from the pod label `seldon-deployment-id` (a PodMonitor's
    # podTargetLabels makes it `seldon_deployment_id`); None: unused.
    deployment_label: str | None = "seldon_deployment_id"
    # More label matchers for every query, e.g. {job: model-pods}.
    selectors: dict[str, str] = Field(default_factory=dict)
    scrape_interval_seconds: float = Field(15.0, gt=0.0)
    timeout_seconds: float = Field(5.0, gt=0.0)

    @model_validator(mode="after")
    def _valid(self) -> PrometheusConfig:
        key = "kubernetes.serving.prometheus"
        if self.url is not None and not re.match(r"^https?://[^/\s]+", self.url):
            raise ValueError(
                f"{key}.url must be http(s)://host[:port], e.g. "
                f"http://prometheus-operated.monitoring.svc:9090, got {self.url!r}"
            )
        names = [self.namespace_label, self.deployment_label, *self.selectors]
        for name in names:
            if name is not None and not _PROMETHEUS_LABEL.match(name):
                raise ValueError(
                    f"{key}: {name!r} is not a Prometheus label name (letters, digits and '_', "
                    "not starting with a digit)"
                )
        return self


class RequestLogSinkConfig(StrictModel):
    """Where the model pods' request logs go: a sidecar ships them to S3 (docs/gpu-k8s.md).

    The server writes its request log to an emptyDir, which dies with the pod. A second
    container from the serving image (`mlcicd.serving.server.log_shipper`) tails it, keeps its
    read position and staged lines on the same emptyDir (a container restart resumes, nothing
    doubled), and puts one object per `upload_interval_minutes` or `max_object_mb` under
    `<url>/<environment>/YYYY/MM/DD/HH/`. The monitor reads those objects back.
    """

    enabled: bool = True
    # s3://bucket/prefix; None: the stack's artifact store path + /request-logs
    url: str | None = None
    # S3-compatible endpoint (MinIO); None: the artifact store's client_kwargs.endpoint_url, and
    # without one AWS S3 itself. Credentials: the serving secret (envFrom), as the model's.
    endpoint_url: str | None = None
    region: str | None = None
    # How long lines wait before their object is written: what a lost node can lose, and how
    # stale the monitor's newest window may be.
    upload_interval_minutes: float = Field(5.0, gt=0.0, le=60.0)
    max_object_mb: int = Field(50, ge=1, le=1024)
    resources: dict[str, dict[str, str]] = Field(
        default_factory=lambda: {
            "requests": {"cpu": "50m", "memory": "128Mi"},
            "limits": {"memory": "256Mi"},
        }
    )

    @model_validator(mode="after")
    def _valid(self) -> RequestLogSinkConfig:
        key = "kubernetes.serving.request_log_sink"
        if self.url is not None and not re.match(
            r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s$%]*)?$", self.url
        ):
            raise ValueError(
                f"{key}.url must be s3://<bucket>[/<prefix>] (a prefix without spaces, $ or %), "
                f"got {self.url!r}"
            )
        if self.endpoint_url is not None and not re.match(r"^https?://[^/\s]+", self.endpoint_url):
            raise ValueError(
                f"{key}.endpoint_url must be http(s)://host[:port], e.g. "
                f"http://minio.minio.svc:9000, got {self.endpoint_url!r}"
            )
        _check_resources(self.resources, f"{key}.resources")
        return self


class ServingEnvironmentConfig(StrictModel):
    """How one serving environment runs on the cluster, whichever config deploys it."""

    # None: the stack's Seldon model deployer namespace (GPU_K8S_SERVING_NAMESPACE).
    namespace: str | None = None
    replicas: int = Field(1, ge=1)
    service_account: str | None = None
    # None: kubernetes.serving.resources
    resources: dict[str, dict[str, str]] | None = None

    @model_validator(mode="after")
    def _valid(self) -> ServingEnvironmentConfig:
        if self.namespace is not None and not re.match(
            r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", self.namespace
        ):
            raise ValueError(f"namespace {self.namespace!r} is not a Kubernetes namespace name")
        if self.resources is not None:
            _check_resources(self.resources, "kubernetes.serving.environments.<env>.resources")
        return self


def _default_environments() -> dict[str, ServingEnvironmentConfig]:
    return {"staging": ServingEnvironmentConfig(), "production": ServingEnvironmentConfig()}


class KubernetesServingConfig(StrictModel):
    """SeldonDeployments on the gpu-k8s stack: one per environment, `<deployment_prefix>-<env>`.

    Set once in configs/base/gpu-k8s.yaml: a promotion started under the staging config must
    deploy production exactly as one under the production config does.
    """

    # Repository in the stack's container registry, and a pinned tag (never 'latest').
    image_repository: str = "ml-cicd-seldon-server"
    image_tag: str = "0.1.0"
    # Full reference instead of <registry>/<image_repository>:<image_tag>.
    image: str | None = None
    deployment_prefix: str | None = None  # default: the model name as a DNS label
    # Namespace, replicas, service account and resources of `staging` and of `production`.
    environments: dict[str, ServingEnvironmentConfig] = Field(default_factory=_default_environments)
    resources: dict[str, dict[str, str]] = Field(
        default_factory=lambda: {
            "requests": {"cpu": "500m", "memory": "1Gi"},
            "limits": {"cpu": "2", "memory": "2Gi"},
        }
    )
    ready_timeout_seconds: float = Field(600.0, gt=0.0)
    poll_interval_seconds: float = Field(5.0, gt=0.0)
    prometheus: PrometheusConfig = PrometheusConfig()
    request_log_sink: RequestLogSinkConfig = RequestLogSinkConfig()

    @model_validator(mode="before")
    @classmethod
    def _moved_keys(cls, raw: Any) -> Any:
        if isinstance(raw, dict):
            moved = [key for key in ("replicas", "service_account") if key in raw]
            if moved:
                raise ValueError(
                    "; ".join(
                        f"kubernetes.serving.{key} is now "
                        f"kubernetes.serving.environments.<staging|production>.{key}"
                        for key in moved
                    )
                    + " (set once in configs/base/gpu-k8s.yaml, so every config deploys each "
                    "environment the same way)"
                )
        return raw

    @model_validator(mode="after")
    def _valid_resources(self) -> KubernetesServingConfig:
        if set(self.environments) != {"staging", "production"}:
            raise ValueError(
                "kubernetes.serving.environments must name exactly 'staging' and 'production', "
                f"got {sorted(self.environments)}"
            )
        _check_resources(self.resources, "kubernetes.serving.resources")
        if self.image_tag == "latest":
            raise ValueError("kubernetes.serving.image_tag must be pinned, not 'latest'")
        return self


_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


class PodPolicyConfig(StrictModel):
    """What every pod the stack starts gets: step pods, the orchestrator pod and model pods.

    The security contexts pass the Kubernetes "restricted" Pod Security profile (non-root,
    no privilege escalation, all capabilities dropped, seccomp RuntimeDefault), so the pipeline
    namespace can enforce it (deploy/k8s/). Deadlines end a pod that cannot be scheduled (a GPU
    nobody has) instead of leaving it Pending until the CI job times out.
    """

    # kubernetes.io/dockerconfigjson Secrets in each namespace, for pulling the step and
    # serving images (deploy/k8s/ attaches the same name to the service accounts).
    image_pull_secrets: list[str] = Field(default_factory=lambda: ["ml-cicd-registry"])
    # The numeric user of the images (stacks/kubernetes/Dockerfile.cuda, stacks/seldon/Dockerfile)
    run_as_user: int = Field(10001, ge=1)
    run_as_group: int = Field(10001, ge=1)
    # activeDeadlineSeconds of each step's Job; the GPU steps train, so theirs is longer. A
    # promotion step gets its rollout's longest possible duration on top (`rollout`).
    step_deadline_seconds: int = Field(3600, ge=60)
    gpu_step_deadline_seconds: int = Field(14400, ge=60)
    # How long finished Jobs (and their pods' logs) stay before Kubernetes deletes them.
    ttl_seconds_after_finished: int = Field(86400, ge=0)

    @model_validator(mode="after")
    def _valid_names(self) -> PodPolicyConfig:
        for name in self.image_pull_secrets:
            if not _DNS_SUBDOMAIN.match(name):
                raise ValueError(
                    f"kubernetes.pods.image_pull_secrets: {name!r} is not a Secret name "
                    "(lower-case letters, digits, '-' and '.')"
                )
        return self

    def pod_security_context(self) -> dict[str, object]:
        """Pod-level part of the restricted profile (applies to injected containers too)."""
        return {
            "runAsNonRoot": True,
            "runAsUser": self.run_as_user,
            "runAsGroup": self.run_as_group,
            "seccompProfile": {"type": "RuntimeDefault"},
        }

    @staticmethod
    def container_security_context() -> dict[str, object]:
        """Container-level part: only settable per container."""
        return {
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        }


class KubernetesConfig(StrictModel):
    """What the gpu-k8s stack's pods get; ignored on stacks without a Kubernetes orchestrator."""

    gpu: GpuConfig = GpuConfig()
    gpu_step_resources: dict[str, dict[str, str]] = Field(
        default_factory=lambda: {
            "requests": {"cpu": "4", "memory": "16Gi"},
            "limits": {"memory": "16Gi"},
        }
    )
    step_resources: dict[str, dict[str, str]] = Field(
        default_factory=lambda: {
            "requests": {"cpu": "1", "memory": "4Gi"},
            "limits": {"memory": "8Gi"},
        }
    )
    image: KubernetesImageConfig = KubernetesImageConfig()
    serving: KubernetesServingConfig = KubernetesServingConfig()
    pods: PodPolicyConfig = PodPolicyConfig()
    # Secret in the pipeline namespace holding ML_CICD_RELEASE_STORE_URL (PostgreSQL) and
    # ML_CICD_RELEASE_SIGNING_KEY; every step pod loads it (envFrom), so staging verdicts and
    # promotions are recorded in the shared release store. Empty: the pods get none.
    release_store_secret: str = "ml-cicd-release"  # noqa: S105 (a Secret's name)

    @model_validator(mode="after")
    def _valid_resources(self) -> KubernetesConfig:
        _check_resources(self.gpu_step_resources, "kubernetes.gpu_step_resources")
        _check_resources(self.step_resources, "kubernetes.step_resources")
        gpu_name = self.gpu.resource_name
        for key, spec in (
            ("gpu_step_resources", self.gpu_step_resources),
            ("step_resources", self.step_resources),
        ):
            if any(gpu_name in values for values in spec.values()):
                raise ValueError(
                    f"kubernetes.{key} must not name {gpu_name}: set kubernetes.gpu.count"
                )
        return self
