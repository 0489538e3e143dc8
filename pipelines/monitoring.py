"""Monitoring pipeline: read production traffic, judge it against the champion, alert, keep it.

Launched by `python run.py monitor` (which then takes the decided actions), hourly by the
`monitor.yml` workflow, or as a ZenML schedule (`run.py monitor --schedule`, a CronJob on
Kubernetes). `since` may be a duration, resolved when the step runs; a scheduled run only
alerts, and says so in the alert: the actions are taken by `run.py monitor`.
"""

from __future__ import annotations

from zenml import pipeline

from mlcicd.config import DataSchema, RunConfig
from mlcicd.failures import record_failure
from steps.monitor.monitor_traffic import monitor_traffic
from steps.monitor.publish_monitoring_report import publish_monitoring_report
from steps.monitor.raise_alerts import raise_alerts


@pipeline(enable_cache=False, on_failure=record_failure)
def monitoring_pipeline(
    config: RunConfig,
    schema: DataSchema,
    since: str,
    until: str | None = None,
    labels_path: str | None = None,
    scheduled: bool = False,
) -> None:
    """Three steps: judge the windows, alert through the stack's alerter, log the report."""
    report = monitor_traffic(
        config=config, schema=schema, since=since, until=until, labels_path=labels_path
    )
    alerted = raise_alerts(report, config=config, scheduled=scheduled)
    publish_monitoring_report(alerted)
