"""Monitoring reports built by the real monitor over a small written request log, and stored.

Shared by the console's AppTest tests and the browser test: a report is what
`build_monitoring_report` makes of a JSONL request log (golden-set rows, optionally with `age`
shifted and some 5xx answers), judged against a profile of the training file; its actions are
the ones `decide_actions` picks, with an outcome written in (taking them needs the pipelines).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from mlcicd.config import DataSchema, MonitoringConfig, RunConfig, load_config
from mlcicd.data.loading import feature_columns
from mlcicd.data.profile import build_profile
from mlcicd.monitoring.actions import decide_actions
from mlcicd.monitoring.history import log_report
from mlcicd.monitoring.monitor import MonitoringContext, build_monitoring_report
from mlcicd.reporting.monitoring import MonitoringReport
from tests.helpers.registry import session_experiment

START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
ROWS_PER_WINDOW = 600  # above monitoring.thresholds.min_rows (500): drift is judged
# what the runner writes after taking each action (mlcicd.runner.monitor.take_action)
OUTCOMES = {
    "rollback": "skipped: no version served before v1",
    "retrain": "retrained: registered v2 as challenger (staging: passed); it waits for a human "
    "approval before production",
    "none": "no action (configured: none)",
}


def build_report(
    model_name: str,
    frames: tuple[pd.DataFrame, pd.DataFrame],
    folder: Path,
    *,
    start: datetime = START,
    shift_age: int = 15,
    error_every: int = 0,
    environment: str = "production",
    outcomes: Mapping[str, str] = OUTCOMES,
) -> MonitoringReport:
    """Two hourly windows from `start`: the first as the golden rows are, the second with `age`
    older by `shift_age` years and every `error_every`-th request a 500 (0: none).

    Drift leads to a retrain, errors to a rollback (as a team would configure it); each action
    ends as `outcomes` says. The report is created at the end of its time range.
    """
    config, schema = load_config("local")
    monitoring = MonitoringConfig(environment=environment, actions={"drift": "retrain",
                                                                    "errors": "rollback"})  # fmt: skip
    config = config.model_copy(update={"model_name": model_name, "monitoring": monitoring})
    train, golden = frames
    profile = build_profile(
        train, schema, model_name=model_name, label="income", data_fingerprint="fp",
        golden_probabilities=np.random.default_rng(0).beta(1, 3, size=len(golden)),
        golden_metrics={"roc_auc": 0.9, "accuracy": 0.85},
    )  # fmt: skip
    lines = request_log_lines(config, schema, golden, start, shift_age, error_every)
    log = folder / f"requests-{start:%H%M}-v1.jsonl"
    log.write_text("\n".join(lines) + "\n")
    context = MonitoringContext("1", profile, 5.0, "fp")
    until = start + timedelta(hours=2)
    report = build_monitoring_report(config, schema, context, [str(log)], start, until, now=until)
    report.actions = decide_actions(report.all_breaches, config.monitoring)
    for action in report.actions:
        action.outcome = outcomes[action.action]
    return report


def request_log_lines(
    config: RunConfig,
    schema: DataSchema,
    golden: pd.DataFrame,
    start: datetime = START,
    shift_age: int = 15,
    error_every: int = 0,
) -> list[str]:
    """Two hours of request-log entries as the model server writes them (see `build_report`)."""
    model_name = config.model_name
    features = feature_columns(config.data, schema)
    rows = 2 * ROWS_PER_WINDOW
    probabilities = np.random.default_rng(1).beta(1, 3, size=rows)  # as on the golden set
    lines = []
    for i, record in enumerate(golden[features].head(rows).to_dict("records")):
        clean = {k: (None if isinstance(v, float) and v != v else v) for k, v in record.items()}
        late = i >= ROWS_PER_WINDOW
        if late:
            clean["age"] = min(100, int(record["age"]) + shift_age)
        entry = {
            "timestamp": (start + timedelta(hours=i // ROWS_PER_WINDOW, seconds=i)).isoformat(),
            "request_id": f"r{i}", "model_name": model_name, "model_version": "1",
            "status": 200, "latency_ms": 5.0 + (i % 10) * 0.2, "records": [clean],
            "predictions": [">50K" if probabilities[i] >= 0.5 else "<=50K"],
            "probabilities": [round(float(probabilities[i]), 6)],
        }  # fmt: skip
        if late and error_every and i % error_every == 0:
            entry.update(status=500, records=[], predictions=[], probabilities=[])
        lines.append(json.dumps(entry))
    return lines


def empty_report(model_name: str, folder: Path, environment: str = "staging") -> MonitoringReport:
    """A run over a time range without traffic: no window, and the monitor's note says why."""
    config, schema = load_config("local")
    config = config.model_copy(
        update={"model_name": model_name, "monitoring": MonitoringConfig(environment=environment)}
    )
    log = folder / "requests-empty.jsonl"
    log.write_text("")
    context = MonitoringContext("1", None, None, None)
    until = START + timedelta(hours=1)
    return build_monitoring_report(config, schema, context, [str(log)], START, until, now=until)


def store_report(tracking_uri: str, report: MonitoringReport) -> str:
    """Log it into a new run of the session's MLflow store, as the pipeline's step does."""
    mlflow.set_tracking_uri(tracking_uri)
    experiment = session_experiment(mlflow.MlflowClient(tracking_uri), "monitoring_pipeline")
    with mlflow.start_run(experiment_id=experiment) as run:
        log_report(report)
    return str(run.info.run_id)
