"""The monitoring report: one typed object per monitoring run, windows of production traffic.

`python run.py monitor`, the monitoring pipeline, its MLflow artifacts and the console's
Monitoring page all read this object, so an alert names the same numbers everywhere.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mlcicd.reporting.drift import DriftReport

BreachKind = Literal["drift", "errors", "latency", "online_metrics", "data_change"]
ActionName = Literal["retrain", "rollback", "none"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WindowTraffic(_Model):
    """What the production server answered in one window."""

    requests: int = 0
    server_errors: int = 0  # 5xx: the model or the server failed
    client_errors: int = 0  # 4xx: bad requests, refused before the model
    predicted_rows: int = 0
    error_rate: float = 0.0  # server errors over requests
    p50_ms: float | None = None
    p99_ms: float | None = None


class OnlineMetrics(_Model):
    """Delayed ground truth joined by request id, against the version's golden-set numbers."""

    labelled_rows: int = 0
    accuracy: float | None = None
    roc_auc: float | None = None
    golden_accuracy: float | None = None
    golden_roc_auc: float | None = None
    note: str = ""


class Breach(_Model):
    """One threshold crossed, with the value, the limit and the config key that sets it."""

    kind: BreachKind
    metric: str
    value: float | None
    threshold: float | None
    config_key: str
    message: str


class MonitoringWindow(_Model):
    """One time window of production traffic, judged against the champion's profile."""

    start: str
    end: str
    model_versions: list[str] = Field(default_factory=list)
    traffic: WindowTraffic = WindowTraffic()
    drift: DriftReport = DriftReport()
    online: OnlineMetrics | None = None
    breaches: list[Breach] = Field(default_factory=list)


class ActionRecord(_Model):
    """What an alert did: the action taken and how it ended."""

    breach_kinds: list[BreachKind]
    action: ActionName
    outcome: str
    detail: str = ""


class MonitoringReport(_Model):
    """Everything one monitoring run found, window by window, and what it did about it."""

    schema_version: int = 1
    model_name: str
    environment: str
    champion_version: str | None = None
    created_at: str
    since: str
    until: str
    window_minutes: int
    sources: list[str] = Field(default_factory=list)
    lines_read: int = 0
    lines_skipped: int = 0
    latency_baseline_ms: float | None = None
    windows: list[MonitoringWindow] = Field(default_factory=list)
    # breaches not tied to a window (the training data changed since the champion was trained)
    breaches: list[Breach] = Field(default_factory=list)
    actions: list[ActionRecord] = Field(default_factory=list)
    note: str = ""

    @property
    def all_breaches(self) -> list[Breach]:
        """Every breach, run-level first, then window by window."""
        return [*self.breaches, *(b for w in self.windows for b in w.breaches)]

    @property
    def healthy(self) -> bool:
        """Whether nothing crossed a threshold."""
        return not self.all_breaches

    def canonical_json(self) -> str:
        """Sorted-key JSON: what is stored and hashed."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, allow_nan=False)

    def sha256(self) -> str:
        """sha256 of the canonical JSON."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()
