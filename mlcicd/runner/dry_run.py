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
    <pipeline>/orchestrator.yaml     the batch/v1 Job of the orchestrator pod (it starts the steps)
    <pipeline>/steps/<step>.yaml     the batch/v1 Job (and pod) of each step
    monitoring_pipeline/cronjob.yaml the CronJob `run.py monitor --schedule` would create
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

from mlcicd.config import DataSchema, RunConfig
from mlcicd.errors import PipelineInputError
from mlcicd.paths import REPO_ROOT
from mlcicd.runner.submission import (
    EXAMPLE_MODEL_VERSION,
    image_files,
    orchestrator_job_document,
    predicted_images,
    seldon_documents,
    step_job,
)
from mlcicd.stack.pod_settings import check_gpu_steps, is_kubernetes_stack, run_options

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
    orchestrators: dict[str, dict[str, Any]] = field(default_factory=dict)
    seldon: dict[str, dict[str, Any]] = field(default_factory=dict)
    cron_job: dict[str, Any] = field(default_factory=dict)
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
        # monitoring: the look-back a scheduled run resolves when it starts
        "since": config.monitoring.default_since,
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


def _compiled(
    pipeline: Any,
    arguments: dict[str, Any],
    config: RunConfig,
    spec: dict[str, Any],
    stack: Any,
    *,
    schedule: bool = False,
) -> tuple[Any, list[str]]:
    """The snapshot run.py (or `--schedule`) would submit, and the pipeline's step names."""
    from zenml.config.compiler import Compiler
    from zenml.config.pipeline_run_configuration import PipelineRunConfiguration

    from mlcicd.runner.schedule import with_schedule_settings

    probe = pipeline.copy()
    probe.prepare(**arguments)
    step_names = list(probe.invocations)
    options = run_options(config, spec, step_names=step_names, strict=False)
    if schedule:
        options = with_schedule_settings(config, options)
    configured = pipeline.with_options(settings=options.settings)
    configured.prepare(**arguments)
    snapshot = Compiler().compile(
        pipeline=configured,
        stack=stack,
        run_configuration=PipelineRunConfiguration(steps=options.steps),
    )
    return snapshot, step_names


def _scheduled_monitoring(
    config: RunConfig, schema: DataSchema, stack: Any, spec: dict[str, Any]
) -> dict[str, Any]:
    """Compile the monitoring pipeline as `--schedule` submits it; its CronJob."""
    from mlcicd.runner.schedule import cron_job, monitoring_arguments
    from pipelines.monitoring import monitoring_pipeline

    arguments = monitoring_arguments(config, schema)
    snapshot, _ = _compiled(monitoring_pipeline, arguments, config, spec, stack, schedule=True)
    image = predicted_images(stack, snapshot)["orchestrator"]
    return cron_job(stack, snapshot, config.monitoring.schedule.cron, image)


def _dry_run_in_store(
    config: RunConfig,
    schema: DataSchema,
    stack_name: str,
    spec: dict[str, Any],
    out_dir: Path,
) -> DryRunResult:
    from zenml.client import Client
    from zenml.stack import Stack
    from zenml.utils import source_utils

    from mlcicd.registry.lineage import git_lineage
    from mlcicd.stack.loader import ensure_stack

    source_utils.set_custom_source_root(str(REPO_ROOT))
    registered = ensure_stack(
        stack_name, activate=False, allow_local_store=True, environment=config.environment
    ).name
    stack = Stack.from_model(Client().get_stack(registered, allow_name_prefix_match=False))
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
        snapshot, step_names = _compiled(pipeline, arguments, config, spec, stack)
        all_steps.extend(step_names)
        images = predicted_images(stack, snapshot)
        result.files.extend(image_files(stack, snapshot, out_dir / name))
        result.orchestrators[name] = orchestrator_job_document(
            stack, snapshot, images["orchestrator"]
        )
        result.files.append(
            _write_yaml(out_dir / name / "orchestrator.yaml", result.orchestrators[name])
        )
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
    result.cron_job = _scheduled_monitoring(config, schema, stack, spec)
    result.files.append(
        _write_yaml(
            out_dir / "monitoring_pipeline" / "cronjob.yaml",
            result.cron_job,
            "run.py monitor --schedule: the snapshot id stands for the one the server creates",
        )
    )
    summary["schedule"] = {
        "pipeline": "monitoring_pipeline",
        "cron": result.cron_job["spec"]["schedule"],
        "concurrency_policy": result.cron_job["spec"].get("concurrencyPolicy"),
    }
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
