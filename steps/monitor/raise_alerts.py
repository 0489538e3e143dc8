"""Step: decide what the breaches ask for and post one alert per action through the alerter."""

from typing import Annotated

from zenml import step
from zenml.client import Client
from zenml.logger import get_logger

from mlcicd.config import RunConfig
from mlcicd.monitoring.actions import decide_actions
from mlcicd.monitoring.alerter import MonitoringAlertParameters
from mlcicd.reporting.monitoring import MonitoringReport

logger = get_logger(__name__)


@step
def raise_alerts(
    monitoring_report: MonitoringReport, config: RunConfig
) -> Annotated[MonitoringReport, "alerted_report"]:
    """The stack's alerter carries the alert (audit log locally, Slack on a cluster).

    Actions are only decided here; the runner takes them after the pipeline, through the same
    paths a person would use (`run.py train`, `run.py rollback`).
    """
    report = monitoring_report.model_copy(deep=True)
    breaches = report.all_breaches
    report.actions = decide_actions(breaches, config.monitoring)
    alerter = Client().active_stack.alerter
    for record in report.actions:
        messages = [b.message for b in breaches if b.kind in record.breach_kinds]
        text = (
            f"[{report.environment}] {config.model_name} v{report.champion_version or '?'}: "
            f"{len(messages)} breach(es) -> action {record.action}\n"
            + "\n".join(f"- {m}" for m in messages[:20])
        )
        if alerter is None:
            logger.warning("the stack has no alerter; alert only in the report: %s", text)
            record.detail = "no alerter in the stack"
            continue
        posted = alerter.post(
            text,
            MonitoringAlertParameters(
                model_name=config.model_name,
                version=report.champion_version or "",
                environment=report.environment,
                kinds=list(record.breach_kinds),
                action=record.action,
            ),
        )
        record.detail = f"alert posted through '{alerter.name}'" if posted else "alert not posted"
    return report
