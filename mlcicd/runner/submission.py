"""What a gpu-k8s run would submit, built offline: image names and files, step Jobs, Seldon docs.

The same ZenML and project functions a real submission calls, minus the run-time values (image
digests, snapshot id, server token). Used by the dry run (`mlcicd.runner.dry_run`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

from mlcicd.config import RunConfig
from mlcicd.paths import REPO_ROOT

PLACEHOLDER_SNAPSHOT_ID = UUID(int=0)


EXAMPLE_MODEL_VERSION = "1"


def _typed(job: dict[str, Any]) -> dict[str, Any]:
    """The Job with the apiVersion and kind the typed endpoint implies, so the file stands alone."""
    return {"apiVersion": "batch/v1", "kind": "Job", **job}


def predicted_images(stack: Any, snapshot: Any) -> dict[str, str]:
    """Build key ('orchestrator' or '<step>.orchestrator') -> the image name ZenML would push."""
    from zenml.utils.pipeline_docker_image_builder import PipelineDockerImageBuilder

    images: dict[str, str] = {}
    for build in stack.get_docker_builds(snapshot):
        if build.settings.image_tag:
            tag = build.settings.image_tag
        else:
            tag = snapshot.pipeline_configuration.name
            if build.step_name:
                tag += f"-{build.step_name}"
            tag += f"-{build.key}"
        key = f"{build.step_name}.{build.key}" if build.step_name else build.key
        images[key] = PipelineDockerImageBuilder._get_target_image_name(
            build.settings, tag, stack.container_registry
        )
    return images


def image_files(stack: Any, snapshot: Any, out: Path) -> list[Path]:
    """The Dockerfile and requirements ZenML would generate for the pipeline image."""
    from zenml.utils.pipeline_docker_image_builder import PipelineDockerImageBuilder

    settings = snapshot.pipeline_configuration.docker_settings
    requirements = PipelineDockerImageBuilder.gather_requirements_files(
        settings, stack=stack, log=False
    )
    parent = settings.parent_image or (
        f"<built from {Path(settings.dockerfile).relative_to(REPO_ROOT)}>"
        if settings.dockerfile
        else "<ZenML default parent image>"
    )
    dockerfile = PipelineDockerImageBuilder._generate_zenml_pipeline_dockerfile(
        parent_image=parent,
        docker_settings=settings,
        requirements_files=requirements,
        apt_packages=list(settings.apt_packages),
        entrypoint=None,
    )
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "Dockerfile"]
    written[0].write_text(dockerfile + "\n", encoding="utf-8")
    for name, content, _ in requirements:
        target = out / ("requirements.txt" if name == ".zenml_pyproject_requirements" else name)
        target.write_text(content, encoding="utf-8")
        written.append(target)
    return written


def step_job(stack: Any, snapshot: Any, step_name: str, image: str) -> dict[str, Any]:
    """The Job the orchestrator pod would create for one step (kubernetes_orchestrator_entrypoint).

    Same functions and arguments as ZenML 0.98's `start_step_job`, minus the run-time values.
    """
    from kubernetes.client import ApiClient
    from zenml.entrypoints.step_entrypoint_configuration import StepEntrypointConfiguration
    from zenml.integrations.kubernetes import kube_utils
    from zenml.integrations.kubernetes.manifest_utils import (
        build_job_manifest,
        build_pod_manifest,
        pod_template_manifest_from_pod,
    )

    orchestrator = stack.orchestrator
    step = snapshot.step_configurations[step_name]
    settings = orchestrator.get_settings(step)
    pod_settings = kube_utils.apply_default_resource_requests(
        memory="400Mi", pod_settings=settings.pod_settings
    )
    labels = {
        "pipeline": kube_utils.sanitize_label_value(snapshot.pipeline_configuration.name),
        "step_name": kube_utils.sanitize_label_value(step_name),
    }
    pod = build_pod_manifest(
        pod_name=None,
        image_name=image,
        command=StepEntrypointConfiguration.get_entrypoint_command(),
        args=StepEntrypointConfiguration.get_entrypoint_arguments(
            step_name=step_name, snapshot_id=PLACEHOLDER_SNAPSHOT_ID
        ),
        env={},
        privileged=settings.privileged,
        pod_settings=pod_settings,
        service_account_name=settings.step_pod_service_account_name
        or settings.service_account_name,
        termination_grace_period_seconds=settings.pod_stop_grace_period,
        labels=labels,
    )
    retry = step.config.retry
    job = build_job_manifest(
        job_name=kube_utils.sanitize_label(
            f"{settings.job_name_prefix or ''}-dryrun-{step_name}-"
            f"{snapshot.pipeline_configuration.name}"
        ),
        pod_template=pod_template_manifest_from_pod(pod),
        backoff_limit=(retry.max_retries if retry else 0) + settings.backoff_limit_margin,
        ttl_seconds_after_finished=settings.ttl_seconds_after_finished,
        active_deadline_seconds=settings.active_deadline_seconds,
        labels=labels,
        annotations={"zenml.io/step_name": step_name},
    )
    document: dict[str, Any] = _typed(ApiClient().sanitize_for_serialization(job))
    document["metadata"]["namespace"] = orchestrator.config.kubernetes_namespace
    return document


def orchestrator_job(stack: Any, snapshot: Any, image: str) -> Any:
    """The orchestrator pod's Job (a V1Job), as ZenML 0.98's `_submit_orchestrator_job` builds it.

    Minus run-time values: the snapshot id, a random job-name part, the server token.
    """
    from zenml.integrations.kubernetes import kube_utils
    from zenml.integrations.kubernetes.constants import ORCHESTRATOR_ANNOTATION_KEY
    from zenml.integrations.kubernetes.orchestrators.kubernetes_orchestrator_entrypoint_configuration import (  # noqa: E501
        KubernetesOrchestratorEntrypointConfiguration as Entrypoint,
    )
    from zenml.integrations.kubernetes.pod_settings import KubernetesPodSettings

    orchestrator = stack.orchestrator
    settings = orchestrator.get_settings(snapshot)
    pipeline_name = snapshot.pipeline_configuration.name
    return orchestrator._prepare_job_manifest(
        name=kube_utils.sanitize_label(f"{settings.job_name_prefix or ''}-{pipeline_name}"),
        command=Entrypoint.get_entrypoint_command(),
        args=Entrypoint.get_entrypoint_arguments(snapshot_id=PLACEHOLDER_SNAPSHOT_ID, run_id=None),
        image=image,
        environment={},
        labels={"pipeline": kube_utils.sanitize_label_value(pipeline_name)},
        annotations={ORCHESTRATOR_ANNOTATION_KEY: str(orchestrator.id)},
        settings=settings,
        pod_settings=settings.orchestrator_pod_settings or KubernetesPodSettings(),
        backoff_limit=settings.orchestrator_job_backoff_limit,
    )


def orchestrator_job_document(stack: Any, snapshot: Any, image: str) -> dict[str, Any]:
    """`orchestrator_job` as the YAML the dry run writes."""
    from kubernetes.client import ApiClient

    document: dict[str, Any] = _typed(
        ApiClient().sanitize_for_serialization(orchestrator_job(stack, snapshot, image))
    )
    document["metadata"]["namespace"] = stack.orchestrator.config.kubernetes_namespace
    return document


def seldon_documents(config: RunConfig, stack: Any) -> dict[str, dict[str, Any]]:
    """The SeldonDeployment each environment gets, from the backend's own resource functions."""
    from mlcicd.serving.kubernetes.backend import kubernetes_serving_backend
    from mlcicd.serving.kubernetes.manifests import single_predictor
    from mlcicd.serving.kubernetes.targets import ServedModel

    class _Offline:
        """Never called: the documents are built, not applied."""

        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"the dry run must not call the Kubernetes API ({name})")

    serving = kubernetes_serving_backend(config, stack, api=_Offline())
    model = ServedModel(
        config.model_name,
        EXAMPLE_MODEL_VERSION,
        f"models:/{config.model_name}/{EXAMPLE_MODEL_VERSION}",
    )
    return {
        backend.target.deployment_name: single_predictor(backend.target, model)
        for backend in serving.backends.values()
    }
