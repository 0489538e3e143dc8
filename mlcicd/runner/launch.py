"""Launch the training pipeline and collect what it produced, for the CLI and the console."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlcicd.config import DataSchema, RunConfig
from mlcicd.data.loading import data_fingerprint
from mlcicd.errors import GateRejected, PipelineInputError
from mlcicd.runner.pipeline_run import failed_steps, new_run_name, run_pipeline, step_output
from mlcicd.stack.active import activate_stack


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


def run_training(config: RunConfig, schema: DataSchema, stack_name: str) -> TrainingOutcome:
    """Register/activate the stack, run the training pipeline, collect its outputs."""
    from mlcicd.registry.lineage import git_lineage
    from pipelines.training import training_pipeline

    data_fingerprint(config.data)  # fail fast, before any ZenML work, on a missing/unreadable file
    if config.gates.golden_rows.enabled and not config.gates.golden_rows.resolved().is_file():
        raise PipelineInputError(
            f"golden rows file not found: {config.gates.golden_rows.resolved()}"
        )
    activate_stack(stack_name, config.environment)
    run_name = new_run_name("training")
    arguments = {"config": config, "schema": schema, "launch_lineage": git_lineage()}
    try:
        run = run_pipeline(training_pipeline, run_name, arguments, config, stack_name)
    except GateRejected as failure:
        if "register_model" in failed_steps(run_name):
            failure.args = (
                f"{failure}\nFull report: python run.py report {run_name} "
                "--format html --output report.html",
            )
        raise
    return TrainingOutcome(
        run_name=run.name,
        run_id=str(run.id),
        stack=stack_name,
        metrics=step_output(run, "evaluate_model", "test_metrics"),
        registered=step_output(run, "register_model", "registered_model"),
        training=step_output(run, "train_model", "training_summary"),
        report=step_output(run, "gate_model", "evaluation_report"),
        staging=step_output(run, "deploy_to_staging", "staging_deployment"),
    )
