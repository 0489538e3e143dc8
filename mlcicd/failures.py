"""Carry a step's failure kind (gate rejection or bad input) from the step to run.py.

Orchestrators report only "step X failed"; the on-failure hook stores the kind and message as step
metadata, which works on every stack, and the launcher reads it back to pick the exit code.
"""

from __future__ import annotations

from typing import Any

from mlcicd.errors import DataValidationFailed, GateRejected, PipelineInputError

FAILURE_KEY = "failure"


def record_failure(exception: BaseException) -> None:
    """ZenML on-failure hook: remember what kind of failure ended the step."""
    from zenml import log_metadata

    if isinstance(exception, GateRejected):
        info = {"kind": "gate_rejected", "gate": exception.gate, "message": str(exception)}
    elif isinstance(exception, PipelineInputError):
        info = {"kind": "input_error", "gate": "", "message": str(exception)}
    else:
        info = {"kind": "error", "gate": "", "message": f"{type(exception).__name__}: {exception}"}
    log_metadata({FAILURE_KEY: info})


def failure_from_run(run: Any) -> Exception | None:
    """Rebuild the typed failure recorded by `record_failure` on a failed run's steps."""
    for step in run.steps.values():
        info = step.run_metadata.get(FAILURE_KEY) if step.run_metadata else None
        if not isinstance(info, dict):
            continue
        message = f"step '{step.name}': {info.get('message', '')}"
        if info.get("kind") == "gate_rejected":
            if info.get("gate") == DataValidationFailed.gate:
                return DataValidationFailed(message)
            return GateRejected(message, gate=info.get("gate") or None)
        if info.get("kind") == "input_error":
            return PipelineInputError(message)
        return RuntimeError(message)
    return None
