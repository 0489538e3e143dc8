"""Step: read the environment's request log and judge it window by window against the champion."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from mlflow import MlflowClient
from zenml import log_metadata, step

from mlcicd.config import DataSchema, RunConfig
from mlcicd.monitoring.labels import read_labels
from mlcicd.monitoring.logs import parse_time
from mlcicd.monitoring.monitor import (
    build_monitoring_report,
    data_change_breach,
    monitoring_context,
)
from mlcicd.reporting.monitoring import MonitoringReport
from mlcicd.serving.backends import serving_backend
from mlcicd.stack.active import active_tracking_uri, request_log_storage_options


@step
def monitor_traffic(
    config: RunConfig,
    schema: DataSchema,
    since: str,
    until: str | None = None,
    labels_path: str | None = None,
) -> Annotated[MonitoringReport, "monitoring_report"]:
    """`since` may be a duration (`1h`), resolved when the step runs, so a schedule can use it."""
    now = datetime.now(UTC)
    start = parse_time(since, now, "since")
    end = parse_time(until, now, "until") if until else now
    environment = config.monitoring.environment
    sources = list(config.monitoring.request_logs) or serving_backend(config).request_logs(
        environment
    )
    data = config.data
    negative = next(v for v in schema.column(data.label).values or [] if v != data.positive_class)
    labels = (
        read_labels(Path(labels_path), data.label, data.positive_class, negative)
        if labels_path
        else None
    )
    client = MlflowClient(tracking_uri=active_tracking_uri())  # no MLflow run of its own
    context = monitoring_context(client, config, environment)
    report = build_monitoring_report(
        config, schema, context, sources, start, end, labels, now,
        storage_options=request_log_storage_options(config),
    )  # fmt: skip
    changed = data_change_breach(config, context)
    if changed is not None:
        report.breaches.append(changed)
    log_metadata(
        {
            "windows": len(report.windows),
            "breaches": [b.message for b in report.all_breaches],
            "lines_read": report.lines_read,
        }
    )
    return report
