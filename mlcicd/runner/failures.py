"""Translate a failed pipeline run into its gate rejection or input error, quietly.

In-process the step's exception is in the chain; on a remote orchestrator the on-failure hook
(`mlcicd.failures.record_failure`) left it in the run's step metadata. Expected failures print
their message, not a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from mlcicd.errors import GateRejected, PipelineInputError
from mlcicd.failures import failure_from_run


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


def typed_failure(exc: BaseException, run_name: str) -> BaseException:
    """The gate rejection or input error behind a failed pipeline run, else `exc` itself.

    A gate rejection also says what the run registered before it failed (a version whose
    staging smoke test failed is in the registry, but can never be approved).
    """
    from zenml.client import Client

    cause = find_cause(exc)
    try:
        failed_run = Client().get_pipeline_run(run_name)
    except KeyError:
        return cause
    if cause is exc:
        recorded = failure_from_run(failed_run)
        cause = exc if recorded is None else recorded
    if isinstance(cause, GateRejected):
        cause.registered = registered_by(failed_run)
    return cause


def unfinished_run_failure(run: Any) -> BaseException:
    """Why a run that returned without raising did not complete.

    The Kubernetes orchestrator's pod exits normally when a step fails, so the submitting call
    returns and only the run's record says what happened: the typed failure its on-failure hook
    stored (a gate rejection keeps its gate and exit code 3), else the steps that did not finish.
    """
    recorded = failure_from_run(run)
    if isinstance(recorded, GateRejected):
        recorded.registered = registered_by(run)
    if recorded is not None:
        return recorded
    unfinished = [
        f"{name} ({_status(step.status)})"
        for name, step in run.steps.items()
        if _status(step.status) != "completed"
    ]
    steps = f": step(s) {', '.join(unfinished)}" if unfinished else ""
    return RuntimeError(
        f"pipeline run {run.name} ended with status {_status(run.status)}{steps}; the step logs "
        "are in the ZenML dashboard (on Kubernetes also: kubectl logs of the step's Job)"
    )


def _status(status: Any) -> str:
    """'failed' for ExecutionStatus.FAILED and for 'failed' alike."""
    return str(getattr(status, "value", status))


def registered_by(run: Any) -> str:
    """'<model> version N (alias ...)' when the run's register_model step finished, else ''."""
    step = run.steps.get("register_model")
    metadata = (step.run_metadata or {}) if step is not None else {}
    registered = metadata.get("registered_model")
    if not isinstance(registered, dict) or not registered.get("version"):
        return ""
    return (
        f"{registered.get('name', '?')} version {registered['version']} "
        f"(alias '{registered.get('alias', '?')}')"
    )


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
