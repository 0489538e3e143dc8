"""Windows from PromQL against a Prometheus server that scrapes the model servers (Kubernetes).

A window is `increase(series[<range>])` evaluated at the window's end, summed by version (and by
status code, or by histogram bucket). What that means for the caller:

- Minimum length. increase() needs two samples of a series inside the range, so a range
  shorter than two scrape intervals usually has no data at all. MIN_WINDOW_INTERVALS (2.5)
  scrape intervals is the shortest window asked for: two intervals plus room for jitter and the
  scrape in flight. `window()` called earlier than that after the mark waits until the minimum
  has passed (at most 2.5 scrape intervals), so a window never reaches back before its mark;
  with `wait=False` it widens the range instead and the window then includes traffic from before
  the mark. Either way `VariantWindow.seconds` says the range used.
- Extrapolation. increase() extrapolates from the first and last sample in the range to its
  boundaries, assuming a steady rate. Steady traffic is estimated well; a burst inside a short
  window is over-counted by up to range / (range - one interval). Windows of ten or more scrape
  intervals keep that within about 10 %; counts are floats, not integers.
- New series. A series born inside the window (a status code seen for the first time) loses
  its first value; the model server creates its usual codes at zero for this reason.
- Clocks. The mark and the window's end are Prometheus' own clock (`time()`), so a skewed
  client clock does not shift the window.

A dead server is not visible as `unreachable` here (its series just stop); its window shows
the traffic Prometheus saw and `detail` says when Prometheus had no series of the version.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import requests

from mlcicd.serving.metrics.window import (
    Mark,
    MetricsError,
    VariantWindow,
    empty_window,
    is_error_code,
    normalize_buckets,
)

logger = logging.getLogger(__name__)

SOURCE = "prometheus"
MIN_WINDOW_INTERVALS = 2.5
DEFAULT_SCRAPE_INTERVAL_S = 15.0  # Prometheus' default global scrape_interval
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def promql_string(value: str) -> str:
    """A PromQL double-quoted string literal of value (quotes, backslashes, controls escaped)."""
    escaped = []
    for char in str(value):
        if char in ('"', "\\"):
            escaped.append("\\" + char)
        elif char == "\n":
            escaped.append("\\n")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\x{ord(char):02x}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def label_matchers(labels: dict[str, str]) -> str:
    """`{a="x",b="y"}` from label equalities; label names are validated, values escaped."""
    for name in labels:
        if not _LABEL_NAME.match(name):
            raise ValueError(f"{name!r} is not a valid Prometheus label name")
    return "{" + ",".join(f"{name}={promql_string(v)}" for name, v in labels.items()) + "}"


class PrometheusMetricsSource:
    """A MetricsSource over Prometheus' HTTP query API (`/api/v1/query`)."""

    def __init__(
        self,
        base_url: str,
        model_name: str,
        selectors: dict[str, str] | None = None,
        timeout: float = 5.0,
        *,
        scrape_interval: float = DEFAULT_SCRAPE_INTERVAL_S,
        environment: str | None = None,
        wait: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Query base_url for model_name's series; `selectors` adds label matchers to all.

        `scrape_interval` is the interval Prometheus scrapes the model servers at (it sets the
        minimum window); `environment` keeps the router's failures of one environment.
        """
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"the Prometheus URL must be http(s)://..., got {base_url!r}")
        if timeout <= 0 or scrape_interval <= 0:
            raise ValueError("timeout and scrape_interval must be positive")
        self.base_url = base_url.rstrip("/")
        self.model_name, self.timeout, self.scrape_interval = model_name, timeout, scrape_interval
        self.wait, self._sleep = wait, sleep
        extra = dict(selectors or {})
        self._server = label_matchers({**extra, "model_name": model_name})
        router = {**extra, **({"environment": environment} if environment is not None else {})}
        self._router = label_matchers(router)

    @property
    def min_window_seconds(self) -> float:
        """The shortest range that reliably holds two scrapes of every series."""
        return MIN_WINDOW_INTERVALS * self.scrape_interval

    def mark(self) -> Mark:
        """Now, in Prometheus' clock."""
        return Mark(SOURCE, self._now())

    def window(self, since: Mark, versions: Sequence[str]) -> dict[str, VariantWindow]:
        """Each version's increases from the mark to now (see the module doc for the range)."""
        if since.source != SOURCE:
            raise ValueError(f"a {since.source!r} mark cannot be used with the Prometheus source")
        end = self._now()
        short = self.min_window_seconds - (end - since.at)
        if short > 0 and self.wait:
            logger.info("waiting %.1f s for a window of two scrapes at least", short)
            self._sleep(short)
            end = self._now()
        seconds = max(end - since.at, self.min_window_seconds)
        window = f"[{math.ceil(seconds * 1000)}ms]"

        def increase(series: str, matchers: str, by: str) -> list[dict[str, Any]]:
            return self._query(f"sum by ({by}) (increase({series}{matchers}{window}))", end)

        codes = increase("mlcicd_model_requests_total", self._server, "model_version, code")
        latency = increase(
            "mlcicd_model_request_duration_seconds_bucket", self._server, "model_version, le"
        )
        probability = increase(
            "mlcicd_model_predicted_probability_bucket", self._server, "model_version, le"
        )
        failures = increase(
            "mlcicd_router_upstream_failures_total", self._router, "model_version, reason"
        )
        return {
            version: self._variant(version, seconds, codes, latency, probability, failures)
            for version in versions
        }

    def _variant(
        self,
        version: str,
        seconds: float,
        codes: list[dict[str, Any]],
        latency: list[dict[str, Any]],
        probability: list[dict[str, Any]],
        failures: list[dict[str, Any]],
    ) -> VariantWindow:
        def of(result: list[dict[str, Any]], label: str) -> list[tuple[str, float]]:
            return [
                (str(item["metric"].get(label, "")), _value(item))
                for item in result
                if item["metric"].get("model_version") == version
            ]

        by_code = of(codes, "code")
        latency_buckets, probability_buckets = of(latency, "le"), of(probability, "le")
        failed = sum(value for _, value in of(failures, "reason"))
        if not (by_code or latency_buckets or probability_buckets or failed):
            return empty_window(version, seconds, f"Prometheus has no series of version {version}")
        return VariantWindow(
            version=version,
            requests=sum(value for _, value in by_code) + failed,
            errors=sum(value for code, value in by_code if is_error_code(code)) + failed,
            latency_buckets=normalize_buckets([(float(le), v) for le, v in latency_buckets]),
            probability_buckets=normalize_buckets(
                [(float(le), v) for le, v in probability_buckets]
            ),
            seconds=seconds,
        )

    # -- the HTTP API ----------------------------------------------------------------------------

    def _now(self) -> float:
        """Prometheus' clock: `time()` evaluated at the server's now."""
        data = self._api({"query": "time()"})
        if data.get("resultType") != "scalar":
            raise MetricsError(f"Prometheus at {self.base_url} answered time() with {data!r}")
        return float(data["result"][1])

    def _query(self, query: str, at: float) -> list[dict[str, Any]]:
        data = self._api({"query": query, "time": f"{at:.3f}"})
        if data.get("resultType") != "vector":
            raise MetricsError(f"Prometheus at {self.base_url} answered {query} with {data!r}")
        return list(data.get("result") or [])

    def _api(self, params: dict[str, str]) -> dict[str, Any]:
        """One instant query; MetricsError naming the URL and Prometheus' words on any failure."""
        url = f"{self.base_url}/api/v1/query"
        try:
            response = requests.get(url, params=params, timeout=self.timeout)
        except requests.RequestException as error:
            raise MetricsError(
                f"Prometheus at {url} cannot be reached: {type(error).__name__}: {error}"
            ) from error
        try:
            body = response.json()
        except ValueError:
            raise MetricsError(
                f"Prometheus at {url} answered HTTP {response.status_code} that is not JSON: "
                f"{response.text[:300]!r}"
            ) from None
        if not isinstance(body, dict) or body.get("status") != "success":
            what = body if not isinstance(body, dict) else body.get("error", body)
            kind = body.get("errorType", "error") if isinstance(body, dict) else "error"
            raise MetricsError(
                f"Prometheus at {url} refused {params['query']!r} "
                f"(HTTP {response.status_code}, {kind}): {what}"
            )
        return dict(body.get("data") or {})


def _value(item: dict[str, Any]) -> float:
    """An instant-vector sample's value; NaN (no data to extrapolate) reads as 0."""
    value = float(item["value"][1])
    return 0.0 if math.isnan(value) else value
