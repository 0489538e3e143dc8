"""The metrics a rollout analysis reads: per-version windows from one of two sources.

`DirectMetricsSource` scrapes the local variants' and router's `/metrics` (the local stack);
`PrometheusMetricsSource` asks a Prometheus server with PromQL (Kubernetes). Both are a
`MetricsSource` and return `VariantWindow`s; the series they read are written by
`mlcicd.serving.server.metrics` and the local router.
"""

from mlcicd.serving.metrics.direct import DirectMetricsSource
from mlcicd.serving.metrics.promql import PrometheusMetricsSource
from mlcicd.serving.metrics.window import (
    Buckets,
    Mark,
    MetricsError,
    MetricsSource,
    VariantReading,
    VariantWindow,
    buckets_increase,
    counter_increase,
    histogram_quantile,
    subtract_readings,
)

__all__ = [
    "Buckets",
    "DirectMetricsSource",
    "Mark",
    "MetricsError",
    "MetricsSource",
    "PrometheusMetricsSource",
    "VariantReading",
    "VariantWindow",
    "buckets_increase",
    "counter_increase",
    "histogram_quantile",
    "subtract_readings",
]
