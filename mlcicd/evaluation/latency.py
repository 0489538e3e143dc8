"""Latency and throughput of a packaged model, measured the way a server calls it."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from inference.packaged_model import PackagedClassifier
from mlcicd.config import LatencyGateConfig
from mlcicd.reporting.model import LatencyResult


def measure_latency(
    model: PackagedClassifier, payload: pd.DataFrame, config: LatencyGateConfig
) -> LatencyResult:
    """Single-row percentiles after warm-up, then rows/s on full batches, on a fixed payload."""
    if payload.empty:
        raise ValueError("latency payload is empty")
    rows = [payload.iloc[[i % len(payload)]] for i in range(config.single_row_requests)]
    for i in range(config.warmup_requests):
        model.predict(None, rows[i % len(rows)])
    samples = []
    for row in rows:
        started = time.perf_counter()
        model.predict(None, row)
        samples.append((time.perf_counter() - started) * 1000.0)
    reps = -(-config.batch_size // len(payload))
    batch = pd.concat([payload] * reps, ignore_index=True).head(config.batch_size)
    model.predict(None, batch)
    batch_seconds = []
    for _ in range(config.batch_repeats):
        started = time.perf_counter()
        model.predict(None, batch)
        batch_seconds.append(time.perf_counter() - started)
    values = np.asarray(samples)
    return LatencyResult(
        p50_ms=float(np.percentile(values, 50)),
        p95_ms=float(np.percentile(values, 95)),
        p99_ms=float(np.percentile(values, 99)),
        mean_ms=float(values.mean()),
        batch_size=len(batch),
        batch_rows_per_second=len(batch) / float(np.median(batch_seconds)),
        samples_ms=[round(v, 4) for v in samples],
    )
