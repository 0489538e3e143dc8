"""Metrics over time: the point of one window (exact numbers), and the sampler's bookkeeping.

The sampler is driven by `ScriptedSource`, a small implementation of our own MetricsSource
protocol that hands out prepared VariantWindows in order and records which mark each window was
asked from; no external component is replaced.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from mlcicd.serving.contract import ServingError
from mlcicd.serving.metrics.history import (
    MetricsPoint,
    MetricsSampler,
    prediction_mean,
    window_point,
)
from mlcicd.serving.metrics.window import Buckets, Mark, MetricsError, VariantWindow

INF = float("inf")
AT = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
TENTHS = tuple(round(t / 10, 1) for t in range(1, 11))  # the model server's probability bins


def tenths(per_bin: dict[float, float]) -> Buckets:
    """Cumulative probability buckets (tenths and +Inf) from {upper bound: rows in that bin}."""
    cumulative, rows = [], 0.0
    for bound in (*TENTHS, INF):
        rows += per_bin.get(bound, 0.0)
        cumulative.append((bound, rows))
    return tuple(cumulative)


LATENCY: Buckets = ((0.01, 10.0), (0.02, 40.0), (0.05, 50.0), (INF, 50.0))
PROBABILITY = tenths({0.1: 10.0, 0.6: 30.0, 1.0: 10.0})


def busy_window(version: str = "3", seconds: float = 10.0) -> VariantWindow:
    return VariantWindow(
        version,
        requests=50.0,
        errors=2.0,
        latency_buckets=LATENCY,
        probability_buckets=PROBABILITY,
        seconds=seconds,
    )


# -- the point of one window ----------------------------------------------------------------------


def test_a_busy_window_gives_rate_error_rate_quantiles_and_mean() -> None:
    point = window_point(busy_window(), AT, "canary")
    assert (point.at, point.version, point.role, point.requests) == (AT, "3", "canary", 50.0)
    assert point.request_rate == pytest.approx(5.0, abs=1e-12)  # 50 requests in 10 s
    assert point.error_rate == pytest.approx(0.04, abs=1e-12)  # 2 of 50
    # p50: rank 25 lies in (10 ms, 20 ms] holding 30 rows, 15 of them needed: 15 ms
    assert point.p50_ms == pytest.approx(15.0, abs=1e-9)
    # p99: rank 49.5 lies in (20 ms, 50 ms] holding 10 rows, 9.5 needed: 48.5 ms
    assert point.p99_ms == pytest.approx(48.5, abs=1e-9)
    # midpoints 0.05 x 10 + 0.55 x 30 + 0.95 x 10 over 50 rows
    assert point.prediction_mean == pytest.approx(0.53, abs=1e-12)
    assert not point.unreachable and point.detail == ""


def test_a_window_without_traffic_has_a_zero_rate_and_nothing_else() -> None:
    point = window_point(VariantWindow("4", seconds=5.0, detail="not serving"), AT)
    assert point.request_rate == 0.0
    assert (point.error_rate, point.p50_ms, point.p99_ms, point.prediction_mean) == (None,) * 4
    assert point.detail == "not serving" and point.role == ""


def test_a_window_without_length_has_no_rate_and_unreachable_is_kept() -> None:
    window = VariantWindow("5", requests=3.0, errors=3.0, unreachable=True, detail="refused")
    point = window_point(window, AT, "canary")
    assert point.request_rate is None
    assert point.error_rate == 1.0
    assert point.unreachable and point.detail == "refused"


def test_prediction_mean_from_bucket_midpoints() -> None:
    assert prediction_mean(tenths({0.1: 4.0})) == pytest.approx(0.05, abs=1e-12)
    assert prediction_mean(tenths({0.2: 1.0, 1.0: 3.0})) == pytest.approx(0.75, abs=1e-12)
    assert prediction_mean(((0.5, 2.0), (INF, 4.0))) == pytest.approx(0.375, abs=1e-12)
    assert prediction_mean(tenths({})) is None  # no rows
    assert prediction_mean(()) is None
    assert prediction_mean(((INF, 3.0),)) is None  # no finite bound to place the rows at


# -- the sampler ----------------------------------------------------------------------------------

Script = dict[str, VariantWindow] | Exception


class ScriptedSource:
    """A MetricsSource of our own protocol: prepared windows in order, an exception raised."""

    def __init__(self, script: Sequence[Script] | Iterator[Script]) -> None:
        self._script = iter(script)
        self.marks = 0
        self.asked: list[tuple[float, tuple[str, ...]]] = []  # (mark.at, versions) per window

    def mark(self) -> Mark:
        self.marks += 1
        return Mark("scripted", float(self.marks))

    def window(self, since: Mark, versions: Sequence[str]) -> dict[str, VariantWindow]:
        self.asked.append((since.at, tuple(versions)))
        item = next(self._script)
        if isinstance(item, Exception):
            raise item
        return {v: item[v] for v in versions if v in item}


class Clock:
    """Hands out AT, AT + step, AT + 2 step, ... (one reading per sample)."""

    def __init__(self, step: timedelta) -> None:
        self.now, self.step = AT - step, step

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


def sampler_of(
    source: ScriptedSource | Callable[[], ScriptedSource],
    roles: dict[str, str],
    *,
    interval_seconds: float = 5.0,
    keep_seconds: float = 3600.0,
    clock: Callable[[], datetime] | None = None,
) -> MetricsSampler:
    make = source if callable(source) else (lambda: source)
    return MetricsSampler(
        make,
        lambda: roles,
        interval_seconds=interval_seconds,
        keep_seconds=keep_seconds,
        clock=clock or Clock(timedelta(seconds=interval_seconds)),
    )


def test_each_window_runs_from_the_previous_mark_and_gives_a_point_per_version() -> None:
    source = ScriptedSource(
        [
            {"3": busy_window("3"), "4": VariantWindow("4", seconds=10.0)},
            {"3": busy_window("3", seconds=5.0), "4": busy_window("4")},
        ]
    )
    roles = {"3": "stable", "4": "canary"}
    sampler = sampler_of(source, roles, clock=Clock(timedelta(seconds=10)))
    assert sampler.sample() == []  # the first call only marks
    first = sampler.sample()
    second = sampler.sample()
    assert source.asked == [(1.0, ("3", "4")), (2.0, ("3", "4"))]  # consecutive marks
    assert [(p.version, p.role, p.request_rate) for p in first] == [
        ("3", "stable", 5.0),
        ("4", "canary", 0.0),
    ]
    assert [(p.version, p.request_rate) for p in second] == [("3", 10.0), ("4", 5.0)]
    history = sampler.history()
    assert history.points == (*first, *second)
    assert history.versions == ("3", "4") and history.error == "" and not history.running
    assert history.last_sample_at == first[0].at + timedelta(seconds=10)


def test_a_read_failure_is_recorded_and_sampling_starts_over_from_a_fresh_mark() -> None:
    source = ScriptedSource(
        [
            {"3": busy_window()},
            MetricsError("Prometheus at http://127.0.0.1:1/api/v1/query cannot be reached"),
            {"3": busy_window(seconds=25.0)},
        ]
    )
    sampler = sampler_of(source, {"3": "stable"}, clock=Clock(timedelta(seconds=5)))
    sampler.sample()
    assert len(sampler.sample()) == 1
    assert sampler.sample() == []
    failed = sampler.history()
    assert failed.error == "Prometheus at http://127.0.0.1:1/api/v1/query cannot be reached"
    assert failed.error_at is not None and len(failed.points) == 1
    assert sampler.sample() == []  # a fresh mark after the outage, no window across it
    [recovered] = sampler.sample()
    assert recovered.request_rate == 2.0
    assert source.asked[-1][0] == 3.0  # the mark taken after the failure
    assert sampler.history().error == "" and len(sampler.history().points) == 2


def test_a_serving_error_from_the_source_itself_is_survived() -> None:
    attempts: list[int] = []
    scripted = ScriptedSource([{"3": busy_window()}])

    def make() -> ScriptedSource:
        attempts.append(1)
        if len(attempts) == 1:
            raise ServingError("production has no router: deploy first")
        return scripted

    sampler = sampler_of(make, {"3": "stable"})
    assert sampler.sample() == []
    assert sampler.history().error == "production has no router: deploy first"
    sampler.sample()
    assert [p.version for p in sampler.sample()] == ["3"]
    assert len(attempts) == 2  # the source is asked for again after a failure, then kept


def test_nothing_serving_gives_no_points_but_keeps_marking() -> None:
    source = ScriptedSource([])
    sampler = sampler_of(source, {})
    assert sampler.sample() == [] and sampler.sample() == []
    assert source.marks == 2 and source.asked == []


def test_points_older_than_keep_seconds_are_dropped() -> None:
    source = ScriptedSource([{"3": busy_window()} for _ in range(7)])
    clock = Clock(timedelta(minutes=20))
    sampler = sampler_of(source, {"3": "stable"}, keep_seconds=3600.0, clock=clock)
    for _ in range(8):
        sampler.sample()
    kept = [p.at for p in sampler.history().points]
    newest = AT + timedelta(minutes=20 * 7)
    assert kept == [newest - timedelta(minutes=20 * k) for k in (3, 2, 1, 0)]


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="interval_seconds must be positive"):
        sampler_of(ScriptedSource([]), {}, interval_seconds=0.0)
    with pytest.raises(ValueError, match="keep_seconds"):
        sampler_of(ScriptedSource([]), {}, interval_seconds=10.0, keep_seconds=5.0)


def _endless(fail_every: int) -> Iterator[Script]:
    count = 0
    while True:
        count += 1
        if count % fail_every == 0:
            yield MetricsError(f"scrape {count} failed")
        else:
            yield {"3": busy_window(), "4": busy_window("4")}


def _wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_the_thread_samples_survives_failures_reads_safely_and_stops() -> None:
    source = ScriptedSource(_endless(fail_every=3))
    sampler = sampler_of(source, {"3": "stable", "4": "canary"}, interval_seconds=0.01)
    sampler.start()
    sampler.start()  # a second start leaves the running thread alone
    try:
        assert [t.name for t in threading.enumerate()].count("metrics-sampler") == 1
        seen: list[MetricsPoint] = []

        def enough() -> bool:
            seen[:] = sampler.history().points  # read while the thread writes
            return len(seen) >= 20 and len(source.asked) >= 12

        assert _wait_for(enough), (len(seen), source.asked[-3:])
        assert sampler.running and sampler.history().running
        assert len(source.asked) // 3 >= 4  # every third window failed; sampling went on
        assert all(isinstance(p.request_rate, float) for p in seen)
        times = [p.at for p in seen]
        assert times == sorted(times)
    finally:
        assert sampler.stop(timeout=5.0)
    assert not sampler.running and not sampler.history().running
    asked = len(source.asked)
    time.sleep(0.1)
    assert len(source.asked) == asked  # no sampling after stop


def test_a_failure_seen_by_the_thread_is_reported_until_a_sample_succeeds() -> None:
    failing = threading.Event()
    failing.set()

    def script() -> Iterator[Script]:
        while True:
            yield MetricsError("router metrics unreadable") if failing.is_set() else {}

    sampler = sampler_of(ScriptedSource(script()), {"3": "stable"}, interval_seconds=0.01)
    sampler.start()
    try:
        assert _wait_for(lambda: sampler.history().error == "router metrics unreadable")
        failing.clear()
        assert _wait_for(lambda: sampler.history().error == "")
        assert sampler.history().error_at is None
    finally:
        assert sampler.stop(timeout=5.0)
