"""Drift before training and production monitoring: thresholds, windows and what an alert does.

Defaults are the usual triggers: PSI above 0.2 is drift, an error rate above 1 %, a p99 above
twice the version's smoke-tested latency, an online ROC AUC more than 3 % below the golden set's.
A KS or chi-square test alone flags tiny shifts on large batches and noise on small ones, so a
numeric or categorical column counts as drifted when its PSI is above the limit, or when the
distance (KS statistic, Jensen-Shannon) is above its limit AND the test's p-value is below its
significance level.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from mlcicd.config.base import StrictModel

OnDrift = Literal["warn", "block"]
MonitoringAction = Literal["retrain", "rollback", "none"]


class NumericDriftConfig(StrictModel):
    """Numeric columns: PSI over the reference's quantile bins, and a KS test."""

    max_psi: float = Field(0.2, gt=0.0)
    max_ks_statistic: float = Field(0.1, gt=0.0, le=1.0)
    ks_p_value: float = Field(0.01, gt=0.0, lt=1.0)


class CategoricalDriftConfig(StrictModel):
    """Categorical columns: PSI over the declared values, Jensen-Shannon and chi-square."""

    max_psi: float = Field(0.2, gt=0.0)
    max_jensen_shannon: float = Field(0.1, gt=0.0, le=1.0)
    chi2_p_value: float = Field(0.01, gt=0.0, lt=1.0)


class DriftConfig(StrictModel):
    """Drift of a new training batch against the champion's reference profile."""

    enabled: bool = True
    on_drift: OnDrift = "warn"
    # A column with fewer non-missing rows than this is reported, not judged. Measured on Adult:
    # of 40 random samples of 200 training rows, 12 % flagged some column; of 500 rows, none.
    min_rows: int = Field(500, ge=1)
    numeric: NumericDriftConfig = NumericDriftConfig()
    categorical: CategoricalDriftConfig = CategoricalDriftConfig()


class MonitoringThresholds(StrictModel):
    """What counts as a breach in one production window.

    Feature drift is judged with `drift.numeric` and `drift.categorical`, the same thresholds
    as before training, so a column drifts in production exactly when it would in a batch.
    """

    max_error_rate: float = Field(0.01, ge=0.0, le=1.0)
    # p99 over the version's smoke-tested p95 (never below the floor): a slow window
    max_p99_ratio: float = Field(2.0, gt=1.0)
    latency_floor_ms: float = Field(10.0, ge=0.0)
    max_prediction_psi: float = Field(0.2, gt=0.0)
    # online ROC AUC (labels joined by request id) below the golden set's by more than this
    max_auc_drop: float = Field(0.03, ge=0.0, le=1.0)
    max_accuracy_drop: float = Field(0.03, ge=0.0, le=1.0)
    # error rate and p99 are judged on windows with at least this many requests, drift on
    # windows with at least min_rows predicted rows, online metrics on min_labelled_rows
    min_requests: int = Field(50, ge=1)
    min_rows: int = Field(500, ge=1)
    min_labelled_rows: int = Field(100, ge=1)


_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?-]+$")
_DURATION = re.compile(r"^\d+[smhd]$")


class MonitoringScheduleConfig(StrictModel):
    """`python run.py monitor --schedule`: the monitoring pipeline as a ZenML schedule.

    On a Kubernetes stack ZenML turns it into a CronJob; each run looks back `since` and
    alerts through the stack's alerter (actions are taken by `run.py monitor`, e.g. from the
    monitor.yml workflow, whose cron should match).
    """

    cron: str = "17 * * * *"
    since: str = "1h"
    # a run still going when the next is due: Forbid skips the new one (no pile-up)
    concurrency_policy: Literal["Forbid", "Replace", "Allow"] = "Forbid"
    # a run that could not start within this many seconds of its time is skipped
    starting_deadline_seconds: int = Field(600, ge=10)
    history_limit: int = Field(3, ge=0, le=100)

    @model_validator(mode="after")
    def _valid(self) -> MonitoringScheduleConfig:
        fields = self.cron.split()
        if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
            raise ValueError(
                f"monitoring.schedule.cron must be a 5-field cron expression (minute hour day "
                f"month weekday), e.g. '17 * * * *', got {self.cron!r}"
            )
        if not _DURATION.match(self.since):
            raise ValueError(
                f"monitoring.schedule.since must be a duration such as 1h, 90m or 2d (each run "
                f"resolves it when it starts), got {self.since!r}"
            )
        return self


class MonitoringConfig(StrictModel):
    """`python run.py monitor`: windows over the production request log and the alert actions."""

    environment: Literal["production", "staging"] = "production"
    window_minutes: int = Field(60, ge=1, le=7 * 24 * 60)
    # how far back a run looks when --since is not given
    default_since: str = "24h"
    thresholds: MonitoringThresholds = MonitoringThresholds()
    # what a breach does: per kind of breach, else `action`
    action: MonitoringAction = "none"
    actions: dict[Literal["drift", "errors", "latency", "online_metrics"], MonitoringAction] = (
        Field(default_factory=dict)
    )
    # the training data changed since the champion was trained (its fingerprint differs)
    on_data_change: Literal["retrain", "none"] = "none"
    # request-log files or globs to read instead of the serving backend's own (on Kubernetes:
    # where the log shipper writes them)
    request_logs: list[str] = Field(default_factory=list)
    # rows read per chunk: the log is streamed, memory stays bounded by this
    chunk_rows: int = Field(20_000, ge=100, le=1_000_000)
    schedule: MonitoringScheduleConfig = MonitoringScheduleConfig()
