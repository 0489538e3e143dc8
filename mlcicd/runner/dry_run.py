"""`python run.py --stack gpu-k8s --dry-run`: compile every pipeline and write what would be sent.

Nothing is contacted: the stack is registered into a throwaway ZenML store in a temporary
directory (never the user's store or server), with the same environment variables a real run
needs; the pipelines are compiled with ZenML's Compiler; the step Jobs are built with the
Kubernetes orchestrator's own manifest functions and the orchestrator's settings for each step;
the SeldonDeployments come from the functions the serving backend applies. Written to OUT:

    stack.yaml                       the expanded stack file (secret values masked)
    summary.yaml                     pipelines, steps, images, GPUs, validation result
    <pipeline>/Dockerfile            the step image ZenML would build (parent + locked requirements)
    <pipeline>/requirements.txt      what that image installs (uv export of uv.lock)
    <pipeline>/steps/<step>.yaml     the batch/v1 Job (and pod) of each step
    seldon/<deployment>.yaml         the SeldonDeployment of each environment

Known differences from a real submission, by design: image names are the tags ZenML would push
(a real run pins them by digest after the build), the snapshot id is a placeholder, and the
orchestrator adds environment variables (server URL, token secret) at run time.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import os
import pkgutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlcicd.config import REPO_ROOT, DataSchema, RunConfig
from mlcicd.errors import PipelineInputError
from mlcicd.stack.pod_settings import check_gpu_steps, is_kubernetes_stack, run_options

PLACEHOLDER_SNAPSHOT_ID = "00000000-0000-0000-0000-000000000000"
EXAMPLE_MODEL_VERSION = "1"
_STORE_VARIABLES = ("ZENML_CONFIG_PATH", "ZENML_LOCAL_STORES_PATH", "ZENML_ACTIVE_STACK_ID")


@dataclass
class StepManifest:
    """One step's Job as the orchestrator would create it."""

    pipeline: str
    step: str
    image: str
    job: dict[str, Any]

    @property
    def pod_spec(self) -> dict[str, Any]:
        """The pod spec inside the Job template."""
        spec: dict[str, Any] = self.job["spec"]["template"]["spec"]
        return spec


@dataclass
class DryRunResult:
    """Everything the dry run produced, for run.py's summary and the tests."""

    out_dir: Path
    stack: str
    pipelines: list[str] = field(default_factory=list)
    steps: list[StepManifest] = field(default_factory=list)
    seldon: dict[str, dict[str, Any]] = field(default_factory=dict)
    validation: str = ""
    files: list[Path] = field(default_factory=list)


def _reset_zenml_singletons() -> None:
    from zenml.client import Client
    from zenml.config.global_config import GlobalConfiguration

    Client._reset_instance()
    GlobalConfiguration._reset_instance()


@contextlib.contextmanager
def throwaway_store() -> Iterator[Path]:
    """A private, empty ZenML store for this process; the previous one is restored afterwards.

    Remote-store settings (ZENML_STORE_URL, ZENML_STORE_API_KEY, ...) are hidden meanwhile, so a
    dry run never writes to a team's server.
    """
    saved = {
        k: v for k, v in os.environ.items() if k.startswith("ZENML_STORE_") or k in _STORE_VARIABLES
    }
    with tempfile.TemporaryDirectory(prefix="ml-cicd-dry-run-") as tmp:
        for key in saved:
            os.environ.pop(key, None)
        os.environ["ZENML_CONFIG_PATH"] = str(Path(tmp) / "zenml")
        os.environ["ZENML_LOCAL_STORES_PATH"] = str(Path(tmp) / "zenml" / "local_stores")
        _reset_zenml_singletons()
        try:
            yield Path(tmp)
        finally:
            for key in (
                *_STORE_VARIABLES,
                *[k for k in os.environ if k.startswith("ZENML_STORE_")],
            ):
                os.environ.pop(key, None)
            os.environ.update(saved)
            _reset_zenml_singletons()


def discover_pipelines() -> dict[str, Any]:
    """Every ZenML pipeline object defined in the `pipelines` package, by name."""
    from zenml.pipelines.pipeline_definition import Pipeline

    import pipelines as package

    found: dict[str, Any] = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, Pipeline) and value.entrypoint.__module__ == module.__name__:
                found[value.name] = value
    return dict(sorted(found.items()))


def pipeline_arguments(
    pipeline: Any, config: RunConfig, schema: DataSchema, lineage: dict[str, str]
) -> dict[str, Any]:
    """Arguments for compiling: the run's config, schema and lineage, by parameter name."""
    known: dict[str, Any] = {
        "config": config,
        "schema": schema,
        "launch_lineage": lineage,
        # release pipelines (promotion, rollback): an example version, recorded as the dry run
        "version": EXAMPLE_MODEL_VERSION,
        "actor": "dry-run",
        "reason": "dry run",
    }
    arguments: dict[str, Any] = {}
    for name, parameter in inspect.signature(pipeline.entrypoint).parameters.items():
        if name in known:
            arguments[name] = known[name]
        elif parameter.default is inspect.Parameter.empty:
            raise PipelineInputError(
                f"the dry run cannot compile pipeline '{pipeline.name}': it does not know a "
                f"value for its parameter '{name}'; add one to mlcicd/runner/dry_run.py "
                "pipeline_arguments()"
            )
    return arguments


def _predicted_images(stack: Any, snapshot: Any) -> dict[str, str]:
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


def _image_files(stack: Any, snapshot: Any, out: Path) -> list[Path]:
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
    document: dict[str, Any] = ApiClient().sanitize_for_serialization(job)
    document["metadata"]["namespace"] = orchestrator.config.kubernetes_namespace
    return document


def seldon_documents(config: RunConfig, stack: Any) -> dict[str, dict[str, Any]]:
    """The SeldonDeployment each environment gets, from the backend's own resource functions."""
    from mlcicd.serving.kubernetes.backend import kubernetes_serving_backend
    from mlcicd.serving.kubernetes.manifests import ServedModel, single_predictor

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


def _masked_spec(spec: dict[str, Any]) -> dict[str, Any]:
    masked = dict(spec)
    masked["secrets"] = [
        {"name": s["name"], "values": dict.fromkeys(s["values"], "***")}
        for s in spec.get("secrets") or []
    ]
    return masked


def _write_yaml(path: Path, document: Any, header: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
    path.write_text((f"# {header}\n" if header else "") + text, encoding="utf-8")
    return path


def _validate(stack: Any) -> str:
    try:
        stack.validate()
    except Exception as exc:  # reported, not fatal: a laptop may lack the cluster's kubeconfig
        return f"FAILED: {type(exc).__name__}: {exc}"
    return "passed"


def dry_run(config: RunConfig, schema: DataSchema, stack_name: str, out_dir: Path) -> DryRunResult:
    """Compile every pipeline for `stack_name` in a throwaway store and write the manifests."""
    from mlcicd.stack.loader import load_stack_spec

    spec = load_stack_spec(stack_name)  # fails early, naming any missing variable
    if not is_kubernetes_stack(spec):
        raise PipelineInputError(
            f"--dry-run writes Kubernetes manifests; stack '{stack_name}' has no Kubernetes "
            "orchestrator"
        )
    with throwaway_store():
        return _dry_run_in_store(config, schema, stack_name, spec, out_dir)


def _dry_run_in_store(
    config: RunConfig,
    schema: DataSchema,
    stack_name: str,
    spec: dict[str, Any],
    out_dir: Path,
) -> DryRunResult:
    from zenml.client import Client
    from zenml.config.compiler import Compiler
    from zenml.config.pipeline_run_configuration import PipelineRunConfiguration
    from zenml.stack import Stack
    from zenml.utils import source_utils

    from mlcicd.registry.lineage import git_lineage
    from mlcicd.stack.loader import ensure_stack

    source_utils.set_custom_source_root(str(REPO_ROOT))
    ensure_stack(stack_name, activate=False, allow_local_store=True)
    stack = Stack.from_model(Client().get_stack(stack_name, allow_name_prefix_match=False))
    out_dir.mkdir(parents=True, exist_ok=True)
    result = DryRunResult(out_dir=out_dir, stack=stack_name, validation=_validate(stack))
    result.files.append(
        _write_yaml(out_dir / "stack.yaml", _masked_spec(spec), "expanded stacks/gpu-k8s.yaml")
    )
    lineage = git_lineage()
    summary: dict[str, Any] = {
        "stack": stack_name,
        "environment": config.environment,
        "validation": result.validation,
        "pipelines": {},
    }
    all_steps: list[str] = []
    for name, pipeline in discover_pipelines().items():
        arguments = pipeline_arguments(pipeline, config, schema, lineage)
        probe = pipeline.copy()
        probe.prepare(**arguments)
        step_names = list(probe.invocations)
        all_steps.extend(step_names)
        options = run_options(config, spec, step_names=step_names, strict=False)
        configured = pipeline.with_options(settings=options.settings)
        configured.prepare(**arguments)
        snapshot = Compiler().compile(
            pipeline=configured,
            stack=stack,
            run_configuration=PipelineRunConfiguration(steps=options.steps),
        )
        images = _predicted_images(stack, snapshot)
        result.files.extend(_image_files(stack, snapshot, out_dir / name))
        steps_summary: dict[str, Any] = {}
        for step_name in snapshot.step_configurations:
            image = images.get(f"{step_name}.orchestrator") or images["orchestrator"]
            job = step_job(stack, snapshot, step_name, image)
            manifest = StepManifest(name, step_name, image, job)
            result.steps.append(manifest)
            result.files.append(_write_yaml(out_dir / name / "steps" / f"{step_name}.yaml", job))
            container = manifest.pod_spec["containers"][0]
            steps_summary[step_name] = {
                "image": image,
                "resources": container.get("resources", {}),
                "node_selector": manifest.pod_spec.get("nodeSelector", {}),
                "service_account": manifest.pod_spec.get("serviceAccountName"),
            }
        summary["pipelines"][name] = {"steps": steps_summary}
        result.pipelines.append(name)
    check_gpu_steps(config, all_steps)
    result.seldon = seldon_documents(config, stack)
    for deployment, document in result.seldon.items():
        result.files.append(
            _write_yaml(
                out_dir / "seldon" / f"{deployment}.yaml",
                document,
                f"model version {EXAMPLE_MODEL_VERSION} stands for the version a run registers",
            )
        )
    summary["seldon"] = sorted(result.seldon)
    result.files.append(_write_yaml(out_dir / "summary.yaml", summary))
    return result
