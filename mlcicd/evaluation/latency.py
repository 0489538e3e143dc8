"""Latency and throughput of a model, measured the way a server calls it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from inference.onnx_classifier import OnnxClassifier
from inference.packaged_model import PackagedClassifier
from mlcicd.config import LatencyGateConfig
from mlcicd.reporting.model import LatencyResult


def serving_predictor(
    model: PackagedClassifier, onnx_model: bytes, runtime: str, threads: int = 1
) -> tuple[Callable[[pd.DataFrame], Any], str]:
    """What a server runs for this model: its ONNX export in onnxruntime, or the pyfunc.

    A model without an ONNX file is served (and timed) as its pyfunc whatever the runtime says:
    that is what the server falls back to for versions registered before packaging existed.
    """
    if runtime == "onnx" and onnx_model:
        onnx = OnnxClassifier(onnx_model, threads=threads)

        def predict_onnx(frame: pd.DataFrame) -> Any:
            probability = onnx.predict_proba(frame)
            return onnx.predict_labels(probability), probability

        return predict_onnx, "onnx"
    return (lambda frame: model.predict(None, frame)), "pyfunc"


def measure_latency(
    predict: Callable[[pd.DataFrame], Any],
    payload: pd.DataFrame,
    config: LatencyGateConfig,
    runtime: str = "",
) -> LatencyResult:
    """Single-row percentiles after warm-up, then rows/s on full batches, on a fixed payload."""
    if payload.empty:
        raise ValueError("latency payload is empty")
    rows = [payload.iloc[[i % len(payload)]] for i in range(config.single_row_requests)]
    for i in range(config.warmup_requests):
        predict(rows[i % len(rows)])
    samples = []
    for row in rows:
        started = time.perf_counter()
        predict(row)
        samples.append((time.perf_counter() - started) * 1000.0)
    reps = -(-config.batch_size // len(payload))
    batch = pd.concat([payload] * reps, ignore_index=True).head(config.batch_size)
    predict(batch)
    batch_seconds = []
    for _ in range(config.batch_repeats):
        started = time.perf_counter()
        predict(batch)
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
        runtime=runtime,
    )
