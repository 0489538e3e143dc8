"""Run the monitoring pipeline, then take the actions its alerts decided.

Actions go through the paths a person uses: a retrain is the training pipeline (every gate,
staging, then the human approval: never straight to production), a rollback is the rollback
pipeline to the version that served before the champion. Each outcome is recorded in the audit
log and in the stored report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mlcicd.config import DataSchema, RunConfig
from mlcicd.errors import GateRejected, MlCicdError
from mlcicd.release.audit import (
    AuditEvent,
    append_event,
    now_utc,
    previous_live_version,
    read_events,
)
from mlcicd.reporting.monitoring import ActionRecord, MonitoringReport
from mlcicd.runner.pipeline_run import new_run_name, run_pipeline, step_output
from mlcicd.stack.active import activate_stack, active_tracking_uri

Say = Callable[[str], None]


@dataclass
class MonitoringOutcome:
    """What a monitoring run found and did."""

    run_name: str
    mlflow_run_id: str
    report: MonitoringReport
    files: list[Path] = field(default_factory=list)


def _rollback(config: RunConfig, stack: str, report: MonitoringReport, reason: str) -> str:
    from mlcicd.runner.release import run_release

    champion = report.champion_version
    if not champion:
        return "skipped: no champion to roll back from"
    target = previous_live_version(read_events(config.model_name), champion)
    if target is None:
        return f"skipped: no version served before v{champion}"
    result = run_release(config, stack, target, "monitor", action="rollback", reason=reason)
    return f"rolled back from v{champion} to v{target} ({result.get('run_name', '')})"


def _retrain(config: RunConfig, schema: DataSchema, stack: str) -> str:
    from mlcicd.runner.launch import run_training

    try:
        outcome = run_training(config, schema, stack)
    except GateRejected as rejected:
        return f"retrained; the new model was rejected by gate {rejected.gate}"
    version = outcome.registered.get("version", "?")
    staged = outcome.staging.get("status", "not deployed")
    return (
        f"retrained: registered v{version} as challenger (staging: {staged}); it waits for "
        "a human approval before production"
    )


def take_action(
    record: ActionRecord,
    config: RunConfig,
    schema: DataSchema,
    stack: str,
    report: MonitoringReport,
    say: Say,
) -> None:
    """Run one decided action and record how it ended (never raises for a failed action)."""
    reason = "; ".join(b.message for b in report.all_breaches if b.kind in record.breach_kinds)
    if record.action == "none":
        record.outcome = "no action (configured: none)"
    else:
        say(f"monitoring: {record.action} because {reason[:300]}")
        try:
            if record.action == "rollback":
                record.outcome = _rollback(config, stack, report, f"monitoring: {reason}"[:500])
            else:
                record.outcome = _retrain(config, schema, stack)
        except MlCicdError as error:
            record.outcome = f"failed: {error}"
    append_event(
        AuditEvent(
            event="monitoring_action",
            model_name=config.model_name,
            version=report.champion_version or "",
            actor="monitor",
            at=now_utc(),
            reason=reason[:2000],
            environment=report.environment,
            detail=f"{record.action}: {record.outcome}",
        )
    )


def run_monitoring(
    config: RunConfig,
    schema: DataSchema,
    stack: str,
    *,
    since: str,
    until: str | None = None,
    labels_path: str | None = None,
    take_actions: bool = True,
    output_dir: Path | None = None,
    say: Say = lambda _m: None,
) -> MonitoringOutcome:
    """The pipeline, the actions, then the final report in MLflow and in `output_dir`."""
    from mlflow import MlflowClient

    from mlcicd.monitoring.history import update_report, write_report_files
    from pipelines.monitoring import monitoring_pipeline

    if labels_path is not None and not Path(labels_path).is_file():
        raise MlCicdError(f"labels file not found: {labels_path}")
    activate_stack(stack, config.environment)
    run_name = new_run_name("monitoring")
    arguments = {
        "config": config,
        "schema": schema,
        "since": since,
        "until": until,
        "labels_path": str(Path(labels_path).resolve()) if labels_path else None,
    }
    run = run_pipeline(monitoring_pipeline, run_name, arguments, config, stack, strict=False)
    report: MonitoringReport = step_output(run, "raise_alerts", "alerted_report")
    mlflow_run_id: str = step_output(run, "publish_monitoring_report", "mlflow_run_id")
    for record in report.actions:
        if take_actions:
            take_action(record, config, schema, stack, report, say)
        else:
            record.outcome = "not taken (--action none)"
    if report.actions and mlflow_run_id:
        update_report(MlflowClient(tracking_uri=active_tracking_uri()), mlflow_run_id, report)
    files = write_report_files(report, output_dir) if output_dir is not None else []
    return MonitoringOutcome(run.name, mlflow_run_id, report, files)
