"""Pipeline and step settings for a stack with a Kubernetes orchestrator, built from the config.

ZenML 0.98's Kubernetes orchestrator ignores `ResourceSettings(gpu_count=...)`: a step pod only
gets GPUs, node selectors and tolerations through `KubernetesOrchestratorSettings.pod_settings`
under the settings key `orchestrator.kubernetes`. These settings are attached when a pipeline is
launched or compiled for such a stack (mlcicd/runner/launch.py, stacks/kubernetes/dry_run.py), never
at import time and never on the local stack, where ZenML would drop the key with a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlcicd.config import KubernetesConfig, RunConfig
from mlcicd.errors import PipelineInputError
from mlcicd.paths import REPO_ROOT

if TYPE_CHECKING:
    from zenml.config import DockerSettings
    from zenml.integrations.kubernetes.flavors import KubernetesOrchestratorSettings

ORCHESTRATOR_SETTINGS_KEY = "orchestrator.kubernetes"
PYPROJECT = REPO_ROOT / "pyproject.toml"
DOCKERIGNORE = REPO_ROOT / "stacks" / "kubernetes" / "dockerignore"
# The lock, not a fresh resolve: --frozen fails instead of silently re-locking; no dev tools.
REQUIREMENTS_EXPORT_COMMAND = [
    "uv",
    "export",
    "--format=requirements-txt",
    "--directory={directory}",
    "--frozen",
    "--no-dev",
    "--no-hashes",
    "--no-emit-project",
]


def orchestrator_flavor(stack_spec: dict[str, Any]) -> str | None:
    """The orchestrator flavor a stack file declares (None without one)."""
    comps = stack_spec.get("components", {}).get("orchestrator") or []
    return str(comps[0]["flavor"]) if comps else None


def is_kubernetes_stack(stack_spec: dict[str, Any]) -> bool:
    """Only a Kubernetes orchestrator reads `orchestrator.kubernetes` settings."""
    return orchestrator_flavor(stack_spec) == "kubernetes"


def _pod_resources(kube: KubernetesConfig, gpu: bool) -> dict[str, dict[str, str]]:
    base = kube.gpu_step_resources if gpu else kube.step_resources
    resources = {kind: dict(values) for kind, values in base.items()}
    if gpu:
        count = str(kube.gpu.count)
        # Extended resources (GPUs) cannot be overcommitted: requests must equal limits.
        resources.setdefault("requests", {})[kube.gpu.resource_name] = count
        resources.setdefault("limits", {})[kube.gpu.resource_name] = count
    return resources


RELEASE_STEPS = frozenset({"deploy_to_production"})
"""Steps that run a production rollout: their deadline also covers the rollout's longest run."""
_ORCHESTRATOR_MARGIN_SECONDS = 900
"""The orchestrator pod's own start-up and bookkeeping, on top of its steps' deadlines."""


def step_deadline_seconds(config: RunConfig, step_name: str) -> int:
    """activeDeadlineSeconds of one step's Job."""
    pods = config.kubernetes.pods
    if step_name in config.kubernetes.gpu.steps and config.kubernetes.gpu.count > 0:
        return pods.gpu_step_deadline_seconds
    if step_name in RELEASE_STEPS:
        return pods.step_deadline_seconds + int(config.rollout.longest_seconds() + 0.5)
    return pods.step_deadline_seconds


def _pod_settings(config: RunConfig, gpu: bool) -> Any:
    """A step pod: resources (and the GPU), pull secrets, the restricted security contexts."""
    from zenml.integrations.kubernetes.pod_settings import KubernetesPodSettings

    kube = config.kubernetes
    return KubernetesPodSettings(
        resources=_pod_resources(kube, gpu),
        node_selectors=dict(kube.gpu.node_selector) if gpu else {},
        tolerations=(
            [t.model_dump(exclude_none=True) for t in kube.gpu.tolerations] if gpu else []
        ),
        labels={"ml-cicd/environment": config.environment, "ml-cicd/gpu": str(gpu).lower()},
        env_from=(
            [{"secretRef": {"name": kube.release_store_secret}}]
            if kube.release_store_secret
            else []
        ),
        image_pull_secrets=list(kube.pods.image_pull_secrets),
        container_security_context=kube.pods.container_security_context(),
        additional_pod_spec_args={"security_context": kube.pods.pod_security_context()},
    )


def orchestrator_pod_settings(config: RunConfig) -> Any:
    """The orchestrator pod (it only starts and watches the step Jobs): same pull and security."""
    from zenml.integrations.kubernetes.pod_settings import KubernetesPodSettings

    pods = config.kubernetes.pods
    return KubernetesPodSettings(
        labels={"ml-cicd/environment": config.environment, "ml-cicd/gpu": "false"},
        image_pull_secrets=list(pods.image_pull_secrets),
        container_security_context=pods.container_security_context(),
        additional_pod_spec_args={"security_context": pods.pod_security_context()},
    )


def step_orchestrator_settings(
    config: RunConfig, gpu: bool, deadline_seconds: int | None = None
) -> KubernetesOrchestratorSettings:
    """One step's settings: its pod, its Job's deadline, how long the finished Job is kept.

    With `gpu`, the pod requests the GPU and gets the node selector and tolerations.
    """
    from zenml.integrations.kubernetes.flavors import KubernetesOrchestratorSettings

    pods = config.kubernetes.pods
    gpu = gpu and config.kubernetes.gpu.count > 0
    return KubernetesOrchestratorSettings(
        pod_settings=_pod_settings(config, gpu),
        active_deadline_seconds=deadline_seconds or pods.step_deadline_seconds,
        ttl_seconds_after_finished=pods.ttl_seconds_after_finished,
    )


def docker_settings(config: RunConfig) -> DockerSettings:
    """The step image: CUDA parent, the locked requirements, no integration pins.

    `install_stack_requirements=False` because the stack's integrations pin conflicting versions
    (seldon: kubernetes==18.20.0, kubernetes: <26), which makes the image's pip install fail.
    """
    from zenml.config import DockerSettings
    from zenml.config.docker_settings import DockerBuildConfig

    image = config.kubernetes.image
    parent: dict[str, Any]
    if image.parent_image is not None:
        parent = {"parent_image": image.parent_image}
    else:
        dockerfile = REPO_ROOT / str(image.parent_dockerfile)
        if not dockerfile.is_file():
            raise PipelineInputError(
                f"kubernetes.image.parent_dockerfile {dockerfile} does not exist"
            )
        parent = {"dockerfile": str(dockerfile), "build_context_root": str(dockerfile.parent)}
    return DockerSettings(
        **parent,
        pyproject_path=str(PYPROJECT),
        pyproject_export_command=REQUIREMENTS_EXPORT_COMMAND,
        install_stack_requirements=False,
        build_config=DockerBuildConfig(dockerignore=str(DOCKERIGNORE)),
        environment={"ML_CICD_ENVIRONMENT": config.environment},
    )


@dataclass
class RunOptions:
    """What `pipeline.with_options(...)` gets for one stack: pipeline settings and step updates."""

    settings: dict[str, Any] = field(default_factory=dict)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """True on stacks that need nothing extra (the local stack)."""
        return not self.settings and not self.steps


def check_gpu_steps(config: RunConfig, step_names: list[str]) -> None:
    """A GPU step that no pipeline has is an error: a typo would train on CPU without a word."""
    unknown = sorted(set(config.kubernetes.gpu.steps) - set(step_names))
    if unknown:
        raise PipelineInputError(
            f"kubernetes.gpu.steps names step(s) {unknown} that the pipeline does not have; "
            f"its steps: {', '.join(step_names)}"
        )


def run_options(
    config: RunConfig,
    stack_spec: dict[str, Any],
    step_names: list[str] | None = None,
    *,
    strict: bool = True,
) -> RunOptions:
    """Settings for this stack; on a non-Kubernetes stack none (so local runs stay quiet).

    `step_names`, when given, are the pipeline's steps; with `strict`, every configured GPU step
    must be one of them (the training pipeline); without, the others are skipped (a release
    pipeline has no training step).
    """
    if not is_kubernetes_stack(stack_spec):
        return RunOptions()
    gpu_steps = set(config.kubernetes.gpu.steps)
    if step_names is not None and strict:
        check_gpu_steps(config, step_names)
    names = list(step_names) if step_names is not None else sorted(gpu_steps)
    steps = {
        name: {
            "settings": {
                ORCHESTRATOR_SETTINGS_KEY: step_orchestrator_settings(
                    config, name in gpu_steps, step_deadline_seconds(config, name)
                )
            }
        }
        for name in names
    }
    pods = config.kubernetes.pods
    run_deadline = sum(step_deadline_seconds(config, name) for name in names)
    pipeline_settings = step_orchestrator_settings(config, False).model_copy(
        update={
            "orchestrator_pod_settings": orchestrator_pod_settings(config),
            # the orchestrator Job: every step after the other, then its own margin
            "active_deadline_seconds": run_deadline + _ORCHESTRATOR_MARGIN_SECONDS,
            "ttl_seconds_after_finished": pods.ttl_seconds_after_finished,
        }
    )
    settings: dict[str, Any] = {
        "docker": docker_settings(config),
        ORCHESTRATOR_SETTINGS_KEY: pipeline_settings,
    }
    return RunOptions(settings=settings, steps=steps)
