"""Launch pipelines on the active stack and turn their outcome into something run.py can print.

run.py and (later) the console call these functions; neither holds pipeline logic of its own.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from configs.config import REPO_ROOT, DataSchema, RunConfig
from pipelines.failure_reporting import failure_from_run, quiet_expected_failures
from steps.data.loading import data_fingerprint
from steps.errors import GateRejected, PipelineInputError


@dataclass
class TrainingOutcome:
    """What a finished training run produced."""

    run_name: str
    run_id: str
    stack: str
    metrics: dict[str, float]
    registered: dict[str, str]
    report: Any = None
    training: dict[str, Any] = field(default_factory=dict)
    staging: dict[str, str] = field(default_factory=dict)


def default_local_home() -> Path:
    """Where the local stack keeps artifacts and the MLflow database (ML_CICD_HOME)."""
    return Path(os.environ.get("ML_CICD_HOME") or REPO_ROOT / ".local").resolve()


def prepare_environment() -> None:
    """Quiet, private defaults for anything the user did not set explicitly."""
    os.environ.setdefault("ML_CICD_HOME", str(default_local_home()))
    os.environ.setdefault("ZENML_ANALYTICS_OPT_IN", "false")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("ZENML_ENABLE_RICH_TRACEBACK", "false")


def find_cause(exc: BaseException) -> BaseException:
    """The first GateRejected or PipelineInputError in the exception chain, else exc itself."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, GateRejected | PipelineInputError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return exc


def activate_stack(stack_name: str) -> None:
    """Make the repository the source root and the named stack active (registering it if needed)."""
    from zenml.utils import source_utils

    from stacks.loader import ensure_stack

    source_utils.set_custom_source_root(str(REPO_ROOT))
    ensure_stack(stack_name)


def stack_run_options(
    pipeline: Any,
    arguments: dict[str, Any],
    config: RunConfig,
    stack_name: str,
    *,
    strict: bool = True,
) -> dict[str, Any]:
    """`with_options` keywords for the stack: GPU pod and image settings on Kubernetes, else none.

    Built from the environment config when the pipeline is launched, never at import time.
    `strict=False` for pipelines without the training step (promotion, rollback).
    """
    from stacks.kubernetes.settings import is_kubernetes_stack, run_options
    from stacks.loader import load_stack_spec

    spec = load_stack_spec(stack_name)
    if not is_kubernetes_stack(spec):
        return {}
    probe = pipeline.copy()
    probe.prepare(**arguments)
    options = run_options(config, spec, step_names=list(probe.invocations), strict=strict)
    return {"settings": options.settings, "steps": options.steps}


def active_tracking_uri() -> str:
    """MLflow tracking URI of the active stack's experiment tracker."""
    from zenml.client import Client

    tracker = Client().active_stack.experiment_tracker
    if tracker is None:
        raise PipelineInputError("the active stack has no MLflow experiment tracker")
    return str(tracker.get_tracking_uri())  # type: ignore[attr-defined]


def typed_failure(exc: BaseException, run_name: str) -> BaseException:
    """The gate rejection or input error behind a failed pipeline run, else `exc` itself.

    In-process the step's exception is in the chain; otherwise (a remote orchestrator) the
    on_failure hook recorded it in the run's step metadata.
    """
    from zenml.client import Client

    cause = find_cause(exc)
    if cause is not exc:
        return cause
    try:
        failed_run = Client().get_pipeline_run(run_name)
    except KeyError:
        return exc
    recorded = failure_from_run(failed_run)
    return exc if recorded is None else recorded


def _failed_steps(run_name: str) -> set[str]:
    from zenml.client import Client

    try:
        run = Client().get_pipeline_run(run_name)
    except KeyError:
        return set()
    return {name for name, step in run.steps.items() if step.status == "failed"}


def run_training(config: RunConfig, schema: DataSchema, stack_name: str) -> TrainingOutcome:
    """Register/activate the stack, run the training pipeline, collect its outputs."""
    from zenml.client import Client

    from pipelines.training import training_pipeline
    from steps.register.lineage import git_lineage

    data_fingerprint(config.data)  # fail fast, before any ZenML work, on a missing/unreadable file
    if config.gates.golden_rows.enabled and not config.gates.golden_rows.resolved().is_file():
        raise PipelineInputError(
            f"golden rows file not found: {config.gates.golden_rows.resolved()}"
        )
    activate_stack(stack_name)
    quiet_expected_failures()
    run_name = f"training-{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
    arguments = {"config": config, "schema": schema, "launch_lineage": git_lineage()}
    options = stack_run_options(training_pipeline, arguments, config, stack_name)
    try:
        training_pipeline.with_options(run_name=run_name, **options)(**arguments)
    except Exception as exc:
        failure = typed_failure(exc, run_name)
        if failure is exc:
            raise
        if isinstance(failure, GateRejected) and "register_model" in _failed_steps(run_name):
            failure.args = (
                f"{failure}\nFull report: python run.py report {run_name} "
                "--format html --output report.html",
            )
        raise failure from None
    run = Client().get_pipeline_run(run_name)
    if str(run.status) not in {"completed", "ExecutionStatus.COMPLETED"}:
        raise RuntimeError(f"pipeline run {run.name} ended with status {run.status}")
    return TrainingOutcome(
        run_name=run.name,
        run_id=str(run.id),
        stack=stack_name,
        metrics=run.steps["evaluate_model"].outputs["test_metrics"][0].load(),
        registered=run.steps["register_model"].outputs["registered_model"][0].load(),
        training=run.steps["train_model"].outputs["training_summary"][0].load(),
        report=run.steps["gate_model"].outputs["evaluation_report"][0].load(),
        staging=run.steps["deploy_to_staging"].outputs["staging_deployment"][0].load(),
    )
