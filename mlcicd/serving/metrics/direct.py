"""Windows from scraping the model servers' (and the local router's) `/metrics` directly.

The local stack has no Prometheus: the variants are processes on this machine, so a window is
two scrapes of their cumulative counters and a subtraction (window.subtract_readings). Because
the values are exact, a window of any length is meaningful here, unlike PromQL's increase().

The set of variants changes during a rollout (a candidate starts, the old version stops), so the
targets are asked again at every mark and window. A variant that cannot be scraped is not an
error: its window says `unreachable` (the analysis treats a dead candidate as a failure). A
version that could not be read at the mark counts from its process start, which is exactly right
for a server that was still starting then.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

import requests
from prometheus_client.parser import text_string_to_metric_families

from mlcicd.serving.metrics.window import (
    Mark,
    MetricsError,
    VariantReading,
    VariantWindow,
    empty_window,
    normalize_buckets,
    subtract_readings,
)

logger = logging.getLogger(__name__)

SOURCE = "direct"
REQUESTS_TOTAL = "mlcicd_model_requests_total"
LATENCY_BUCKET = "mlcicd_model_request_duration_seconds_bucket"
PROBABILITY_BUCKET = "mlcicd_model_predicted_probability_bucket"
ROUTER_FAILURES_TOTAL = "mlcicd_router_upstream_failures_total"
SERVER_METRICS_PATH = "/metrics"
ROUTER_METRICS_PATH = "/router/metrics"
DEFAULT_TIMEOUT_S = 1.5


@dataclass
class _Scrape:
    """The series of one version read from its server (mutable while parsing)."""

    by_code: dict[str, float] = field(default_factory=dict)
    latency: dict[float, float] = field(default_factory=dict)
    probability: dict[float, float] = field(default_factory=dict)


class DirectMetricsSource:
    """A MetricsSource over the local variants' and router's Prometheus text endpoints."""

    def __init__(
        self,
        targets: Callable[[], dict[str, int]],
        router_port: int | None = None,
        host: str = "127.0.0.1",
        *,
        model_name: str,
        environment: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        """Read the variants `targets()` names ({version: port}) and the router, if any.

        `environment` keeps the router's failures of that environment (None: all of them).
        """
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self._targets, self._router_port, self._host = targets, router_port, host
        self.model_name, self.environment, self.timeout = model_name, environment, timeout

    def mark(self) -> Mark:
        """Scrape every variant (and the router) now; the window subtracts these values."""
        return Mark(SOURCE, time.monotonic(), self._read())

    def window(self, since: Mark, versions: Sequence[str]) -> dict[str, VariantWindow]:
        """Each version's increase since the mark; one not serving and never seen: all zeros."""
        if since.source != SOURCE:
            raise ValueError(f"a {since.source!r} mark cannot be used with the direct source")
        now = self._read()
        seconds = max(0.0, time.monotonic() - since.at)
        windows: dict[str, VariantWindow] = {}
        for version in versions:
            reading = now.get(version)
            if reading is None:
                windows[version] = empty_window(version, seconds, "not serving")
            else:
                windows[version] = subtract_readings(since.readings.get(version), reading, seconds)
        return windows

    # -- scraping -------------------------------------------------------------------------------

    def _read(self) -> dict[str, VariantReading]:
        try:
            targets = {str(version): int(port) for version, port in self._targets().items()}
        except Exception as error:
            raise MetricsError(f"cannot list the serving variants: {error}") from error
        failures, router_detail = self._read_router()
        readings: dict[str, VariantReading] = {}
        for version, port in targets.items():
            readings[version] = self._read_variant(version, port, failures.pop(version, {}))
        for version, by_reason in failures.items():  # failures towards a variant now gone
            readings[version] = VariantReading(version, upstream_failures=by_reason)
        if router_detail:  # every window says that the router's failures are missing
            readings = {v: _with_detail(r, router_detail) for v, r in readings.items()}
        return readings

    def _read_variant(self, version: str, port: int, failures: dict[str, float]) -> VariantReading:
        url = f"http://{self._host}:{port}{SERVER_METRICS_PATH}"
        try:
            text = self._get(url)
            scrape = self._server_series(text, version)
        except (requests.RequestException, ValueError) as error:
            logger.warning("variant %s at %s cannot be scraped: %s", version, url, error)
            return VariantReading(
                version,
                upstream_failures=failures,
                unreachable=True,
                detail=f"{url}: {type(error).__name__}: {error}",
            )
        found = scrape.by_code or scrape.latency or scrape.probability
        return VariantReading(
            version,
            requests_by_code=scrape.by_code,
            upstream_failures=failures,
            latency_buckets=normalize_buckets(scrape.latency),
            probability_buckets=normalize_buckets(scrape.probability),
            detail="" if found else f"{url} has no series of {self.model_name} version {version}",
        )

    def _read_router(self) -> tuple[dict[str, dict[str, float]], str]:
        """{version: {reason: count}} of the router's upstream failures, and what went wrong."""
        if self._router_port is None:
            return {}, ""
        url = f"http://{self._host}:{self._router_port}{ROUTER_METRICS_PATH}"
        try:
            text = self._get(url)
            failures: dict[str, dict[str, float]] = {}
            for labels, value in _samples(text, ROUTER_FAILURES_TOTAL):
                if self.environment is not None and labels.get("environment") != self.environment:
                    continue
                by_reason = failures.setdefault(labels.get("model_version", ""), {})
                reason = labels.get("reason", "")
                by_reason[reason] = by_reason.get(reason, 0.0) + value
        except (requests.RequestException, ValueError) as error:
            logger.warning("the router's metrics at %s cannot be read: %s", url, error)
            return {}, f"router metrics unreadable ({url}: {type(error).__name__}: {error})"
        return failures, ""

    def _server_series(self, text: str, version: str) -> _Scrape:
        scrape = _Scrape()
        wanted = {REQUESTS_TOTAL, LATENCY_BUCKET, PROBABILITY_BUCKET}
        for name, labels, value in _all_samples(text, wanted):
            if labels.get("model_name") != self.model_name:
                continue
            if labels.get("model_version") != version:
                continue
            if name == REQUESTS_TOTAL:
                code = labels.get("code", "")
                scrape.by_code[code] = scrape.by_code.get(code, 0.0) + value
            else:
                target = scrape.latency if name == LATENCY_BUCKET else scrape.probability
                bound = float(labels["le"])
                target[bound] = target.get(bound, 0.0) + value
        return scrape

    def _get(self, url: str) -> str:
        response = requests.get(url, timeout=self.timeout)
        response.raise_for_status()
        return response.text


def _all_samples(text: str, names: set[str]) -> Iterable[tuple[str, dict[str, str], float]]:
    """(sample name, labels, value) of the named samples in Prometheus text; ValueError if bad."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in names:
                yield sample.name, dict(sample.labels), float(sample.value)


def _samples(text: str, name: str) -> Iterable[tuple[dict[str, str], float]]:
    for _, labels, value in _all_samples(text, {name}):
        yield labels, value


def _with_detail(reading: VariantReading, detail: str) -> VariantReading:
    return replace(reading, detail=f"{reading.detail}; {detail}" if reading.detail else detail)
