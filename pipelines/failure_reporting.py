"""Carry a step's failure kind (gate rejection or bad input) from the step to run.py.

Orchestrators report only "step X failed"; the on-failure hook stores the kind and message as step
metadata, which works on every stack, and the launcher reads it back to pick the exit code.
"""

from __future__ import annotations

import logging
from typing import Any

from steps.errors import DataValidationFailed, GateRejected, PipelineInputError

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


class _ExpectedFailureTracebacks(logging.Filter):
    """Drop tracebacks of expected failures: the message already says everything."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], GateRejected | PipelineInputError):
            record.exc_info = None
            record.exc_text = None
        return True


def quiet_expected_failures() -> None:
    """Install the traceback filter on the loggers that report step failures."""
    for name in (
        "zenml.orchestrators.local.local_orchestrator",
        "zenml.orchestrators.step_launcher",
    ):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _ExpectedFailureTracebacks) for f in logger.filters):
            logger.addFilter(_ExpectedFailureTracebacks())


def flush_telemetry_log_handlers() -> None:
    """Flush OpenTelemetry log handlers now, while threads may still start.

    ZenML 0.98's log store creates an OpenTelemetry handler whose flush starts a thread; at
    interpreter exit Python 3.12 refuses that and prints a traceback. Flushing early and turning
    the late flush into a no-op avoids it without losing logs.
    """
    for ref in list(getattr(logging, "_handlerList", [])):
        handler = ref() if callable(ref) else None
        if handler is None or not type(handler).__module__.startswith("opentelemetry"):
            continue
        provider = getattr(handler, "_logger_provider", None)
        force_flush = getattr(provider, "force_flush", None)
        if callable(force_flush):
            force_flush()
        setattr(handler, "flush", lambda: None)  # noqa: B010
