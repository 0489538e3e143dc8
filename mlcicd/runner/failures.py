"""Translate a failed pipeline run into its gate rejection or input error, quietly.

In-process the step's exception is in the chain; on a remote orchestrator the on-failure hook
(`mlcicd.failures.record_failure`) left it in the run's step metadata. Expected failures print
their message, not a traceback.
"""

from __future__ import annotations

import logging

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
    """The gate rejection or input error behind a failed pipeline run, else `exc` itself."""
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
