"""What a rollout analysis reads about one version over one window, and how windows are made.

A window is the increase of the model servers' cumulative counters (and the router's upstream
failures) between two points in time. Two sources produce them (`MetricsSource`): scraping the
servers directly (the local stack) and PromQL against a Prometheus server (Kubernetes). Both
give a VariantWindow, so the analysis does not care where the numbers came from.

The pure functions here (bucket arithmetic, subtraction with counter resets, histogram quantile)
are the Prometheus semantics re-done in Python for the direct source, and the helpers the
analysis uses on either source's windows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from mlcicd.errors import MlCicdError

# (upper bound, cumulative count) pairs in increasing bound order, +Inf last: Prometheus' `le`.
Buckets = tuple[tuple[float, float], ...]

INF = float("inf")


class MetricsError(MlCicdError, RuntimeError):
    """The metrics cannot be read at all (e.g. Prometheus unreachable or answering an error)."""


@dataclass(frozen=True)
class VariantWindow:
    """One version's traffic over a window; all counts are increases, never totals.

    `requests` counts every request the server answered (any status) plus the upstream failures
    the router saw for this version (timeouts, refused connections): a request that never got an
    answer is still a request. `errors` counts the 5xx answers plus those upstream failures.
    `unreachable` says the version could not be read at the window's end (a dead candidate);
    its counts are then what could be read, usually zero, and `detail` says why.
    """

    version: str
    requests: float = 0.0
    errors: float = 0.0
    latency_buckets: Buckets = ()
    probability_buckets: Buckets = ()
    seconds: float = 0.0
    unreachable: bool = False
    detail: str = ""

    @property
    def error_rate(self) -> float:
        """errors / requests; 0.0 without requests (check `requests` before judging a rate)."""
        return self.errors / self.requests if self.requests > 0 else 0.0

    @property
    def predicted_rows(self) -> float:
        """Rows predicted in the window (the probability histogram's count)."""
        return bucket_total(self.probability_buckets)

    @property
    def latency_observations(self) -> float:
        """Requests whose latency was measured (answered by the server)."""
        return bucket_total(self.latency_buckets)

    def quantile(self, q: float) -> float:
        """The q-quantile of the latency in seconds (NaN without data), like histogram_quantile."""
        return histogram_quantile(q, self.latency_buckets)

    def probability_counts(self) -> tuple[float, ...]:
        """Rows per probability bin (non-cumulative), aligned with `probability_buckets`."""
        return bucket_counts(self.probability_buckets)


@dataclass(frozen=True)
class VariantReading:
    """One version's cumulative counters at one instant, as scraped (the direct source's mark).

    The server's series and the router's are kept apart: they are different processes that
    restart (and reset their counters) independently.
    """

    version: str
    requests_by_code: Mapping[str, float] = field(default_factory=dict)
    upstream_failures: Mapping[str, float] = field(default_factory=dict)  # by reason
    latency_buckets: Buckets = ()
    probability_buckets: Buckets = ()
    unreachable: bool = False
    detail: str = ""


@dataclass(frozen=True)
class Mark:
    """An opaque point in time to measure a window from; only the source that made it reads it.

    `at` is in the source's clock (time.monotonic() for the direct source, Prometheus' own
    clock for PromQL); `readings` holds the direct source's cumulative values per version.
    """

    source: str
    at: float
    readings: Mapping[str, VariantReading] = field(default_factory=dict)


class MetricsSource(Protocol):
    """Where a rollout analysis gets per-version windows from."""

    def mark(self) -> Mark:
        """An opaque point in time to measure from."""
        ...

    def window(self, since: Mark, versions: Sequence[str]) -> dict[str, VariantWindow]:
        """Each version's window from `since` to now; a version without data: all zeros."""
        ...


def is_error_code(code: str) -> bool:
    """A 5xx answer counts against the version; 4xx are the client's fault."""
    return code.strip().startswith("5") and len(code.strip()) == 3


def counter_increase(before: float, after: float) -> float:
    """after - before; a value that went down means a restart: the later value is the increase."""
    return after - before if after >= before else after


def bucket_total(buckets: Buckets) -> float:
    """The histogram's observation count: its +Inf bucket (0 without buckets)."""
    return buckets[-1][1] if buckets and math.isinf(buckets[-1][0]) else 0.0


def normalize_buckets(pairs: Mapping[float, float] | Sequence[tuple[float, float]]) -> Buckets:
    """Sorted by bound, equal bounds summed, counts made monotonic (as histogram_quantile does).

    Increases of separate bucket series (PromQL, extrapolated) can be slightly non-monotonic.
    """
    merged: dict[float, float] = {}
    for bound, count in pairs.items() if isinstance(pairs, Mapping) else pairs:
        merged[float(bound)] = merged.get(float(bound), 0.0) + float(count)
    result: list[tuple[float, float]] = []
    highest = 0.0
    for bound in sorted(merged):
        highest = max(highest, merged[bound])
        result.append((bound, highest))
    return tuple(result)


def bucket_counts(buckets: Buckets) -> tuple[float, ...]:
    """Cumulative buckets to per-bin counts (first bin from 0, last the +Inf bin)."""
    counts, previous = [], 0.0
    for _, cumulative in buckets:
        counts.append(max(0.0, cumulative - previous))
        previous = max(previous, cumulative)
    return tuple(counts)


def buckets_increase(before: Buckets, after: Buckets) -> Buckets:
    """The histogram's increase between two readings of one process.

    If any bucket went down the process restarted in between: the later reading is the increase
    (taken for the whole histogram, so a reset is never half-applied). A bound missing from the
    earlier reading counts from 0.
    """
    earlier = dict(before)
    if any(count < earlier.get(bound, 0.0) for bound, count in after):
        return normalize_buckets(after)
    return normalize_buckets([(b, c - earlier.get(b, 0.0)) for b, c in after])


def _series_reset(before: Mapping[str, float], after: Mapping[str, float]) -> bool:
    return any(value < before.get(key, 0.0) for key, value in after.items())


def subtract_readings(
    before: VariantReading | None, after: VariantReading, seconds: float = 0.0
) -> VariantWindow:
    """The window between two cumulative readings of one version (None: it had none yet).

    A server restart resets all of its series at once, so one decreased server series (a status
    code or a bucket) means the whole later server reading is the increase; the router's series
    are judged on their own, for the same reason.
    """
    earlier = before or VariantReading(after.version)
    server_reset = _series_reset(earlier.requests_by_code, after.requests_by_code) or any(
        count < dict(old).get(bound, 0.0)
        for old, new in (
            (earlier.latency_buckets, after.latency_buckets),
            (earlier.probability_buckets, after.probability_buckets),
        )
        for bound, count in new
    )
    if server_reset:
        earlier = VariantReading(
            after.version, upstream_failures=earlier.upstream_failures
        )  # the server's values start again from zero
    router_reset = _series_reset(earlier.upstream_failures, after.upstream_failures)
    by_code = {
        code: counter_increase(earlier.requests_by_code.get(code, 0.0), value)
        for code, value in after.requests_by_code.items()
    }
    failures = sum(
        value if router_reset else counter_increase(earlier.upstream_failures.get(k, 0.0), value)
        for k, value in after.upstream_failures.items()
    )
    return VariantWindow(
        version=after.version,
        requests=sum(by_code.values()) + failures,
        errors=sum(v for code, v in by_code.items() if is_error_code(code)) + failures,
        latency_buckets=buckets_increase(earlier.latency_buckets, after.latency_buckets),
        probability_buckets=buckets_increase(
            earlier.probability_buckets, after.probability_buckets
        ),
        seconds=seconds,
        unreachable=after.unreachable,
        detail=after.detail,
    )


def histogram_quantile(q: float, buckets: Buckets) -> float:
    """PromQL's histogram_quantile on cumulative buckets: linear inside the bucket holding rank.

    NaN without observations or without a +Inf bucket; a rank in the +Inf bucket gives the
    highest finite bound (the best a histogram can say); the first bucket starts at 0.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be within [0, 1], got {q}")
    ordered = normalize_buckets(buckets)
    if len(ordered) < 2 or not math.isinf(ordered[-1][0]):
        return math.nan
    observations = ordered[-1][1]
    if observations <= 0:
        return math.nan
    rank = q * observations
    index = next(i for i, (_, count) in enumerate(ordered) if count >= rank)
    if index == len(ordered) - 1:
        return ordered[-2][0]
    if index == 0 and ordered[0][0] <= 0:
        return ordered[0][0]
    start, below = (0.0, 0.0) if index == 0 else ordered[index - 1]
    end, count = ordered[index]
    in_bucket = count - below
    if in_bucket <= 0:
        return end
    return start + (end - start) * ((rank - below) / in_bucket)


def empty_window(version: str, seconds: float = 0.0, detail: str = "") -> VariantWindow:
    """A version with no data yet: all zeros (not unreachable; it may just not serve yet)."""
    return VariantWindow(version=version, seconds=seconds, detail=detail)
