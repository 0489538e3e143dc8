"""Prometheus metrics of one model server, served at `GET /metrics` on its HTTP port.

A rollout compares a candidate version with the stable one on these series, so the names and
labels below are a contract (`mlcicd.serving.metrics` reads them, directly or through PromQL):

- `mlcicd_model_requests_total{model_name, model_version, code}`: prediction requests by the
  HTTP status the server answered (200, 400, 413, 415, 500, 503 while loading...).
- `mlcicd_model_request_duration_seconds{model_name, model_version}`: their latency, in buckets
  fine enough (LATENCY_BUCKETS, about x1.5 apart) to estimate a p99 by interpolation.
- `mlcicd_model_predicted_probability{model_name, model_version}`: the positive-class probability
  of every predicted row, in tenths (PROBABILITY_BUCKETS), for a prediction-shift (PSI) check.

Each server object has its own CollectorRegistry, not prometheus_client's global one: the global
registry would also carry seldon's and the process' collectors, and two servers built in one
process (tests) would collide. Requests are counted by Flask hooks around the whole request, so
the refusals seldon renders itself (415, 405, undecodable bodies) are counted too. Counts live in
the worker's memory: with seldon's single gunicorn worker (its default, and ours) one scrape sees
them all. Recording never fails a request: every error is logged and swallowed.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence

from flask import Blueprint, Response, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from mlcicd.serving.server.protocol import PREDICTIONS_PATH

logger = logging.getLogger(__name__)

REQUESTS = "mlcicd_model_requests"  # a Counter: exported with the `_total` suffix
REQUESTS_TOTAL = "mlcicd_model_requests_total"
REQUEST_DURATION = "mlcicd_model_request_duration_seconds"
PREDICTED_PROBABILITY = "mlcicd_model_predicted_probability"
METRICS_PATH = "/metrics"
# The text format every Prometheus 2.x parses (prometheus_client's "latest" is 1.0.0).
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

# 0.5 ms .. 10 s in 1-1.5-2-3-5-7.5 steps (27 bounds): a p99 interpolated inside a bucket is off by
# at most half a step, finer than the 2x latency ratio a rollout judges.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.0075,
    0.01, 0.015, 0.02, 0.03, 0.05, 0.075,
    0.1, 0.15, 0.2, 0.3, 0.5, 0.75,
    1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0,
)  # fmt: skip
PROBABILITY_BUCKETS: tuple[float, ...] = tuple(round(tenth / 10, 1) for tenth in range(1, 11))

# seldon's routes that predict; every other route (health, metadata, /metrics) is not counted.
PREDICTION_PATHS = frozenset({PREDICTIONS_PATH, "/api/v0.1/predictions", "/predict"})

# Codes created at zero up front: PromQL's increase() cannot see the first value of a series
# that appears inside its window, so an error series born with the candidate's first 500 would
# hide exactly those errors.
INITIAL_CODES = ("200", "400", "413", "415", "500", "503")

_STARTED = "mlcicd_request_started"


class _BulkHistogram(Collector):
    """A histogram of one label set that adds a whole batch under one lock.

    A batch may hold thousands of rows; one prometheus_client `observe()` per row would cost
    milliseconds per request, a bisect per row and one lock does not.
    """

    def __init__(
        self, name: str, documentation: str, labels: dict[str, str], bounds: Sequence[float]
    ):
        self._name, self._documentation = name, documentation
        self._labels = labels
        self._bounds = tuple(float(b) for b in bounds)
        self._counts = [0] * (len(self._bounds) + 1)  # the last one is +Inf
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe_many(self, values: Iterable[float]) -> None:
        floats = [float(v) for v in values]
        indices = [bisect.bisect_left(self._bounds, v) for v in floats]  # v <= bound: `le`
        total = sum(floats)
        with self._lock:
            for index in indices:
                self._counts[index] += 1
            self._sum += total

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            counts, total = list(self._counts), self._sum
        family = HistogramMetricFamily(self._name, self._documentation, labels=list(self._labels))
        cumulative, buckets = 0, []
        for bound, count in zip((*self._bounds, float("inf")), counts, strict=True):
            cumulative += count
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), float(cumulative)))
        family.add_metric(list(self._labels.values()), buckets, total)
        yield family


class ServerMetrics:
    """The three families of one served model version, in their own registry."""

    def __init__(self, model_name: str, model_version: str) -> None:
        self.model_name, self.model_version = model_name, model_version
        self.registry = CollectorRegistry()
        labels = {"model_name": model_name, "model_version": model_version}
        self._requests = Counter(
            REQUESTS,
            "Prediction requests by the HTTP status the model server answered.",
            ["model_name", "model_version", "code"],
            registry=self.registry,
        )
        self._duration = Histogram(
            REQUEST_DURATION,
            "Time from the request reaching Flask to the response leaving it.",
            ["model_name", "model_version"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._probability = _BulkHistogram(
            PREDICTED_PROBABILITY,
            "Positive-class probability of every predicted row.",
            labels,
            PROBABILITY_BUCKETS,
        )
        self.registry.register(self._probability)
        for code in INITIAL_CODES:
            self._requests.labels(model_name, model_version, code)
        self._duration.labels(model_name, model_version)

    def observe_request(self, status: int, seconds: float | None) -> None:
        """Count one answered prediction request (and its latency when it was measured)."""
        try:
            labels = (self.model_name, self.model_version)
            self._requests.labels(*labels, str(int(status))).inc()
            if seconds is not None:
                self._duration.labels(*labels).observe(max(0.0, seconds))
        except Exception:
            logger.exception("could not record the request metrics")

    def observe_probabilities(self, probabilities: Sequence[float]) -> None:
        """Add the predicted rows' probabilities; a failure is logged, never raised."""
        try:
            self._probability.observe_many(probabilities)
        except Exception:
            logger.exception("could not record the predicted probabilities")

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)

    def blueprint(self, *nested: Blueprint, name: str = "mlcicd_model_server") -> Blueprint:
        """A Blueprint for seldon's app: the nested ones, the request hooks and `/metrics`.

        seldon registers exactly one blueprint (the model's `model_error_handler`); nesting the
        error handlers inside this one keeps them app-wide (Flask registers a nested blueprint's
        `app_errorhandler`s on the app itself).
        """
        blueprint = Blueprint(name, __name__)
        for child in nested:
            blueprint.register_blueprint(child)

        @blueprint.before_app_request
        def _start_clock() -> None:
            try:
                if request.path in PREDICTION_PATHS:
                    setattr(g, _STARTED, time.perf_counter())
            except Exception:
                logger.exception("could not start the request clock")

        @blueprint.after_app_request
        def _count(response: Response) -> Response:
            try:
                if request.path in PREDICTION_PATHS:
                    started = getattr(g, _STARTED, None)
                    seconds = None if started is None else time.perf_counter() - started
                    self.observe_request(response.status_code, seconds)
            except Exception:
                logger.exception("could not record the request metrics")
            return response

        @blueprint.route(METRICS_PATH, methods=["GET"])
        def _metrics() -> Response:
            return Response(self.exposition(), status=200, content_type=CONTENT_TYPE)

        return blueprint
