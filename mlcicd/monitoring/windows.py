"""Per-window accumulators: traffic, latency, feature and prediction counts, labelled outcomes.

Each window keeps only counts (a few hundred numbers per column), so memory depends on the
number of windows and columns, never on the number of requests.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from mlcicd.config import DriftConfig
from mlcicd.data.drift import PredictionCounter, column_drift, prediction_drift
from mlcicd.data.profile import ProfileCounter, ReferenceProfile
from mlcicd.reporting.drift import DriftReport
from mlcicd.reporting.monitoring import MonitoringWindow, OnlineMetrics, WindowTraffic
from mlcicd.statistics import binned_roc_auc, histogram_quantile_counts

# 0.05 ms to 120 s, about 4 % apart: a p99 read from these bins is within a few percent.
LATENCY_EDGES_MS: np.ndarray = np.geomspace(0.05, 120_000.0, 380)
AUC_BINS = 1000


def window_start(at: datetime, minutes: int) -> datetime:
    """The start of the fixed UTC window holding `at` (windows align to the epoch)."""
    seconds = minutes * 60
    epoch = int(at.astimezone(UTC).timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


class LabelOutcomes:
    """Counts of labelled predictions: correct ones and score histograms for a binned AUC."""

    def __init__(self) -> None:
        self.rows = 0
        self.correct = 0
        self.positive = np.zeros(AUC_BINS, dtype=np.int64)
        self.negative = np.zeros(AUC_BINS, dtype=np.int64)

    def add(self, probability: float, predicted_positive: bool, actual_positive: bool) -> None:
        """One labelled row."""
        self.rows += 1
        self.correct += int(predicted_positive == actual_positive)
        index = min(int(probability * AUC_BINS), AUC_BINS - 1)
        (self.positive if actual_positive else self.negative)[index] += 1

    def metrics(self, golden: Mapping[str, float], min_rows: int) -> OnlineMetrics:
        """Accuracy and ROC AUC once enough rows are labelled, next to the golden numbers."""
        online = OnlineMetrics(
            labelled_rows=self.rows,
            golden_accuracy=golden.get("accuracy"),
            golden_roc_auc=golden.get("roc_auc"),
        )
        if self.rows < min_rows:
            online.note = f"{self.rows} labelled row(s), fewer than the {min_rows} needed"
            return online
        auc = binned_roc_auc(self.positive.tolist(), self.negative.tolist())
        online.accuracy = round(self.correct / self.rows, 6)
        online.roc_auc = None if math.isnan(auc) else round(auc, 6)
        if online.roc_auc is None:
            online.note = "every labelled row has the same class: no ROC AUC"
        return online


class WindowAccumulator:
    """Everything one window needs, counted entry by entry and chunk by chunk."""

    def __init__(
        self,
        start: datetime,
        minutes: int,
        profile: ReferenceProfile | None,
        features: list[str],
    ) -> None:
        self.start = start
        self.end = start + timedelta(minutes=minutes)
        self.profile = profile
        self.requests = 0
        self.server_errors = 0
        self.client_errors = 0
        self.predicted_rows = 0
        self.latency = np.zeros(len(LATENCY_EDGES_MS) + 1, dtype=np.int64)
        self.versions: set[str] = set()
        self.labels = LabelOutcomes()
        self._pending_records: list[dict[str, Any]] = []
        self._pending_probabilities: list[float] = []
        # only the model's inputs: the label and excluded columns are never in a request
        self.features = ProfileCounter(profile, features) if profile else None
        self.predictions = (
            PredictionCounter(profile.prediction) if profile and profile.prediction else None
        )

    def add(
        self,
        entry: Mapping[str, Any],
        labels: Mapping[tuple[str, int], bool] | None,
        positive_class: str,
    ) -> None:
        """One logged request: its status and latency, and its rows when it was answered."""
        self.requests += 1
        status = int(entry.get("status", 0))
        version = entry.get("model_version")
        if version:
            self.versions.add(str(version))
        if status >= 500:
            self.server_errors += 1
        elif status >= 400:
            self.client_errors += 1
        latency = entry.get("latency_ms")
        if isinstance(latency, (int, float)) and math.isfinite(latency):
            index = int(np.searchsorted(LATENCY_EDGES_MS, float(latency), side="right"))
            self.latency[index] += 1
        if status != 200:
            return
        records = entry.get("records")
        probabilities = entry.get("probabilities")
        if not isinstance(records, list) or not isinstance(probabilities, list):
            return
        if len(records) != len(probabilities):
            return
        self.predicted_rows += len(probabilities)
        self._pending_records.extend(r for r in records if isinstance(r, dict))
        self._pending_probabilities.extend(
            float(p) if isinstance(p, (int, float)) else math.nan for p in probabilities
        )
        if labels:
            request_id = str(entry.get("request_id") or "")
            predictions = entry.get("predictions") or []
            for row, probability in enumerate(probabilities):
                actual = labels.get((request_id, row))
                if actual is None or not isinstance(probability, (int, float)):
                    continue
                predicted = (
                    str(predictions[row]) == positive_class
                    if row < len(predictions)
                    else probability >= 0.5
                )
                self.labels.add(float(probability), predicted, actual)

    def flush(self) -> None:
        """Count the rows gathered since the last flush (called once per chunk)."""
        if self.features is not None and self._pending_records:
            self.features.add(pd.DataFrame.from_records(self._pending_records))
        if self.predictions is not None and self._pending_probabilities:
            self.predictions.add(np.asarray(self._pending_probabilities, dtype=float))
        self._pending_records = []
        self._pending_probabilities = []

    def _quantile_ms(self, q: float) -> float | None:
        value = histogram_quantile_counts(LATENCY_EDGES_MS.tolist(), self.latency.tolist(), q)
        return None if math.isnan(value) else round(value, 3)

    def result(
        self,
        drift: DriftConfig,
        max_prediction_psi: float,
        min_rows: int,
        min_labelled_rows: int,
        reference_version: str | None,
        with_labels: bool,
    ) -> MonitoringWindow:
        """The window as the report shows it (breaches are judged afterwards)."""
        self.flush()
        traffic = WindowTraffic(
            requests=self.requests,
            server_errors=self.server_errors,
            client_errors=self.client_errors,
            predicted_rows=self.predicted_rows,
            error_rate=round(self.server_errors / self.requests, 6) if self.requests else 0.0,
            p50_ms=self._quantile_ms(0.5),
            p99_ms=self._quantile_ms(0.99),
        )
        if self.features is not None and self.profile is not None:
            report = DriftReport(
                reference_version=reference_version,
                reference_rows=self.profile.rows,
                current_rows=self.predicted_rows,
                on_drift=drift.on_drift,
                features=[
                    column_drift(self.features, name, drift, min_rows)
                    for name in self.features.columns
                ],
                prediction=(
                    prediction_drift(self.predictions, max_prediction_psi, min_rows)
                    if self.predictions is not None
                    else None
                ),
            )
        else:
            report = DriftReport(note="no reference profile: drift not computed")
        golden = self.profile.golden_metrics if self.profile else {}
        return MonitoringWindow(
            start=self.start.isoformat(timespec="seconds"),
            end=self.end.isoformat(timespec="seconds"),
            model_versions=sorted(self.versions, key=lambda v: (len(v), v)),
            traffic=traffic,
            drift=report,
            online=self.labels.metrics(golden, min_labelled_rows) if with_labels else None,
        )
