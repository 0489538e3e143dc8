"""The router's Prometheus series.

Their names and labels are a contract: the metrics sources (mlcicd.serving.metrics) read them,
so keep them exactly as they are.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REQUESTS_TOTAL = "mlcicd_router_requests_total"
UPSTREAM_FAILURES_TOTAL = "mlcicd_router_upstream_failures_total"
REQUEST_DURATION_SECONDS = "mlcicd_router_request_duration_seconds"
SHADOW_REQUESTS_TOTAL = "mlcicd_router_shadow_requests_total"
# Sub-millisecond (the router's own cost on loopback) up to the longest upstream timeout.
DURATION_BUCKETS: tuple[float, ...] = (
    0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


class RouterMetrics:
    """The router's series in a registry of its own, never the process-global one."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            REQUESTS_TOTAL,
            "Attempts forwarded to a variant, by the status it answered ('error': none).",
            ["environment", "model_version", "role", "code"],
            registry=self.registry,
        )
        self.failures = Counter(
            UPSTREAM_FAILURES_TOTAL,
            "Attempts that got no answer from the variant, by reason (timeout, connection).",
            ["environment", "model_version", "reason"],
            registry=self.registry,
        )
        self.duration = Histogram(
            REQUEST_DURATION_SECONDS,
            "Time of one attempt at a variant, as the router saw it.",
            ["environment", "model_version"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.shadow = Counter(
            SHADOW_REQUESTS_TOTAL,
            "Mirrored prediction requests by outcome (sent, dropped, failed).",
            ["environment", "model_version", "outcome"],
            registry=self.registry,
        )
