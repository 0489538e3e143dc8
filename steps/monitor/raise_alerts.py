"""Step: decide what the breaches ask for and post one alert per action through the alerter."""

from typing import Annotated

from zenml import step
from zenml.client import Client
from zenml.logger import get_logger

from mlcicd.config import RunConfig
from mlcicd.monitoring.actions import decide_actions
from mlcicd.monitoring.alerter import post_alerts
from mlcicd.reporting.monitoring import MonitoringReport

logger = get_logger(__name__)


@step
def raise_alerts(
    monitoring_report: MonitoringReport, config: RunConfig, scheduled: bool = False
) -> Annotated[MonitoringReport, "alerted_report"]:
    """The stack's alerter carries the alert (audit log locally, Slack on a cluster).

    Actions are only decided here; the runner takes them after the pipeline, through the same
    paths a person would use (`run.py train`, `run.py rollback`). A scheduled run has no runner
    after it: its alerts say the action is left to `run.py monitor`.
    """
    report = monitoring_report.model_copy(deep=True)
    report.actions = decide_actions(report.all_breaches, config.monitoring)
    alerter = Client().active_stack.alerter
    if alerter is None and report.actions:
        logger.warning("the stack has no alerter: the alerts are only in the report")
    post_alerts(report, config, alerter, scheduled=scheduled)
    for record in report.actions:
        logger.info("%s: %s", record.action, record.detail)
    return report
