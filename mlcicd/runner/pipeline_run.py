"""The one way every pipeline is launched: named run, stack options, typed failure, final status.

Training, promotion and rollback all go through `run_pipeline`, so a gate rejection raised in a
step pod reaches the CLI as the same exception (and exit code) as one raised in-process.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from mlcicd.config import RunConfig
from mlcicd.runner.failures import quiet_expected_failures, typed_failure, unfinished_run_failure
from mlcicd.runner.stop_runs import record_launch
from mlcicd.stack.active import stack_run_options


def new_run_name(prefix: str) -> str:
    """`<prefix>-<UTC time>-<6 hex>`: sortable, unique, readable in the ZenML dashboard."""
    return f"{prefix}-{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"


def failed_steps(run_name: str) -> set[str]:
    """Names of the steps that failed in a run (empty when the run is unknown)."""
    from zenml.client import Client

    try:
        run = Client().get_pipeline_run(run_name)
    except KeyError:
        return set()
    return {name for name, step in run.steps.items() if step.status == "failed"}


def run_pipeline(
    pipeline: Any,
    run_name: str,
    arguments: dict[str, Any],
    config: RunConfig,
    stack_name: str,
    *,
    strict: bool = True,
) -> Any:
    """Run `pipeline(**arguments)` on the active stack and return its finished run.

    Raises the step's GateRejected or PipelineInputError (exit 3 / 1 in the CLI) when it failed
    that way, whether the orchestrator raised (local) or returned (Kubernetes), and a
    RuntimeError naming the unfinished steps when the run ended in any other state.
    """
    from zenml.client import Client

    quiet_expected_failures()
    options = stack_run_options(pipeline, arguments, config, stack_name, strict=strict)
    record_launch(run_name)
    try:
        pipeline.with_options(run_name=run_name, **options)(**arguments)
    except Exception as exc:
        failure = typed_failure(exc, run_name)
        if failure is exc:
            raise
        raise failure from None
    run = Client().get_pipeline_run(run_name)
    if str(getattr(run.status, "value", run.status)) != "completed":
        raise unfinished_run_failure(run)
    return run


def step_output(run: Any, step_name: str, output_name: str) -> Any:
    """Load one named output of one step of a finished run."""
    return run.steps[step_name].outputs[output_name][0].load()
