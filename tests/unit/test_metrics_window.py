"""The window arithmetic a rollout analysis rests on, with numbers worked out by hand.

tests/serving/test_metrics_sources.py checks the sources against real servers and a real
Prometheus; here the pure parts are pinned down without any process: counter resets, bucket
arithmetic, subtraction of two readings and PromQL's histogram_quantile.
"""

from __future__ import annotations

import math

import pytest

from mlcicd.serving.metrics.window import (
    INF,
    Buckets,
    VariantReading,
    VariantWindow,
    bucket_counts,
    bucket_total,
    buckets_increase,
    counter_increase,
    empty_window,
    histogram_quantile,
    is_error_code,
    normalize_buckets,
    subtract_readings,
)

# 10 observations <= 0.1 s, 20 more <= 0.5 s, 10 more <= 1 s, none above.
LATENCY: Buckets = ((0.1, 10.0), (0.5, 30.0), (1.0, 40.0), (INF, 40.0))


# -- status codes and counters ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("500", True),
        ("503", True),
        (" 502 ", True),  # label values are compared stripped
        ("200", False),
        ("404", False),  # the client's fault, not the version's
        ("429", False),
        ("5", False),
        ("5000", False),
        ("", False),
        ("error", False),
    ],
)
def test_only_three_digit_5xx_codes_are_errors(code, expected):
    assert is_error_code(code) is expected


@pytest.mark.parametrize(
    ("before", "after", "increase"),
    [
        (3.0, 10.0, 7.0),
        (10.0, 10.0, 0.0),
        (0.0, 0.0, 0.0),
        (10.0, 4.0, 4.0),  # went down: the process restarted and counted 4 since
        (10.0, 0.0, 0.0),  # restarted and saw nothing yet
    ],
)
def test_counter_increase_takes_a_decrease_as_a_restart(before, after, increase):
    assert counter_increase(before, after) == increase


# -- buckets ----------------------------------------------------------------------------------


def test_bucket_total_is_the_inf_bucket():
    assert bucket_total(LATENCY) == 40.0
    assert bucket_total(((0.1, 2.0), (INF, 5.0))) == 5.0
    assert bucket_total(()) == 0.0
    assert bucket_total(((0.1, 2.0), (0.5, 4.0))) == 0.0  # no +Inf: no count to trust


def test_normalize_sorts_by_bound_and_makes_counts_monotonic():
    assert normalize_buckets({INF: 10.0, 0.5: 4.0, 0.1: 6.0}) == (
        (0.1, 6.0),
        (0.5, 6.0),  # 4 < 6 below it: raised to 6, as histogram_quantile does
        (INF, 10.0),
    )


def test_normalize_sums_equal_bounds_and_makes_floats():
    result = normalize_buckets([(0.1, 1), (1, 4), (0.1, 2), (INF, 4)])
    assert result == ((0.1, 3.0), (1.0, 4.0), (INF, 4.0))
    assert all(isinstance(b, float) and isinstance(c, float) for b, c in result)
    assert normalize_buckets([]) == ()


def test_bucket_counts_turns_cumulative_into_per_bin():
    assert bucket_counts(((0.1, 2.0), (0.5, 5.0), (INF, 9.0))) == (2.0, 3.0, 4.0)
    assert bucket_counts(LATENCY) == (10.0, 20.0, 10.0, 0.0)
    assert bucket_counts(()) == ()


def test_bucket_counts_never_goes_negative_on_a_dip():
    # 3 < 5 would be a bin of -2; it is 0, and the next bin counts from the highest seen (5)
    assert bucket_counts(((0.1, 5.0), (0.5, 3.0), (INF, 9.0))) == (5.0, 0.0, 4.0)


def test_buckets_increase_subtracts_bound_by_bound():
    before = ((0.1, 2.0), (1.0, 5.0), (INF, 6.0))
    after = ((0.1, 4.0), (1.0, 9.0), (INF, 12.0))
    assert buckets_increase(before, after) == ((0.1, 2.0), (1.0, 4.0), (INF, 6.0))
    assert buckets_increase(after, after) == ((0.1, 0.0), (1.0, 0.0), (INF, 0.0))


def test_buckets_increase_after_a_reset_is_the_later_reading():
    before = ((0.1, 2.0), (1.0, 5.0), (INF, 6.0))
    # only the 1.0 bucket went down (5 -> 4): the whole histogram is taken as restarted,
    # never half-applied (that would make the 0.1 bin 1 and the +Inf bin 1)
    after = ((0.1, 3.0), (1.0, 4.0), (INF, 7.0))
    assert buckets_increase(before, after) == after


def test_buckets_increase_counts_a_new_bound_from_zero():
    assert buckets_increase(((INF, 3.0),), ((0.5, 2.0), (INF, 5.0))) == ((0.5, 2.0), (INF, 2.0))
    assert buckets_increase((), ((0.5, 2.0), (INF, 5.0))) == ((0.5, 2.0), (INF, 5.0))


# -- two readings to a window -----------------------------------------------------------------


def test_the_first_reading_of_a_version_is_its_whole_window():
    after = VariantReading(
        "3",
        requests_by_code={"200": 5.0, "500": 2.0},
        upstream_failures={"timeout": 1.0},
        latency_buckets=((0.1, 6.0), (INF, 7.0)),
        probability_buckets=((0.5, 3.0), (INF, 5.0)),
    )
    window = subtract_readings(None, after, seconds=2.5)
    assert window == VariantWindow(
        "3",
        requests=8.0,  # 5 + 2 answered, 1 the router never got an answer for
        errors=3.0,  # the 500s and the timeout
        latency_buckets=((0.1, 6.0), (INF, 7.0)),
        probability_buckets=((0.5, 3.0), (INF, 5.0)),
        seconds=2.5,
    )


def test_subtracting_counts_requests_errors_and_failures():
    before = VariantReading(
        "4",
        requests_by_code={"200": 10.0, "500": 1.0, "400": 2.0},
        upstream_failures={"timeout": 1.0, "connection": 0.0},
        latency_buckets=((0.1, 10.0), (INF, 13.0)),
        probability_buckets=((0.5, 4.0), (INF, 10.0)),
    )
    after = VariantReading(
        "4",
        requests_by_code={"200": 30.0, "500": 4.0, "400": 3.0, "503": 1.0},
        upstream_failures={"timeout": 3.0, "connection": 1.0},
        latency_buckets=((0.1, 30.0), (INF, 38.0)),
        probability_buckets=((0.5, 14.0), (INF, 30.0)),
    )
    window = subtract_readings(before, after, seconds=5.0)
    # answered: 200 +20, 500 +3, 400 +1, 503 +1 (new code, from 0) = 25; router failures +3
    assert (window.requests, window.errors) == (28.0, 3.0 + 1.0 + 3.0)
    assert window.error_rate == pytest.approx(7 / 28)
    assert window.latency_buckets == ((0.1, 20.0), (INF, 25.0))
    assert window.probability_buckets == ((0.5, 10.0), (INF, 20.0))
    assert (window.seconds, window.unreachable) == (5.0, False)


def test_a_server_restart_counts_its_series_from_zero_but_keeps_the_routers():
    before = VariantReading(
        "5",
        requests_by_code={"200": 100.0, "500": 5.0},
        upstream_failures={"timeout": 2.0},
        latency_buckets=((0.1, 90.0), (INF, 105.0)),
    )
    after = VariantReading(
        "5",
        requests_by_code={"200": 7.0, "500": 1.0},
        upstream_failures={"timeout": 4.0},  # the router did not restart: +2
        latency_buckets=((0.1, 6.0), (INF, 8.0)),
    )
    window = subtract_readings(before, after)
    assert (window.requests, window.errors) == (7.0 + 1.0 + 2.0, 1.0 + 2.0)
    assert window.latency_buckets == ((0.1, 6.0), (INF, 8.0))


def test_one_decreased_bucket_is_a_server_restart_for_every_series():
    before = VariantReading(
        "5",
        requests_by_code={"200": 5.0},
        latency_buckets=((0.1, 5.0), (INF, 5.0)),
    )
    after = VariantReading(
        "5",
        requests_by_code={"200": 9.0},  # went up, yet the histogram says the server restarted
        latency_buckets=((0.1, 2.0), (INF, 9.0)),
    )
    window = subtract_readings(before, after)
    assert window.requests == 9.0  # not 9 - 5
    assert window.latency_buckets == ((0.1, 2.0), (INF, 9.0))


def test_a_router_restart_takes_all_its_later_failures_as_the_increase():
    before = VariantReading(
        "6",
        requests_by_code={"200": 10.0},
        upstream_failures={"timeout": 5.0, "connection": 1.0},
    )
    after = VariantReading(
        "6",
        requests_by_code={"200": 15.0},
        # timeout went down: the router restarted, so connection's 3 are all new (not 3 - 1)
        upstream_failures={"timeout": 2.0, "connection": 3.0},
    )
    window = subtract_readings(before, after)
    assert (window.requests, window.errors) == (5.0 + 5.0, 5.0)


def test_an_unreachable_reading_is_carried_into_the_window():
    after = VariantReading("7", unreachable=True, detail="127.0.0.1:1/metrics: refused")
    window = subtract_readings(VariantReading("7", requests_by_code={"200": 3.0}), after)
    assert window.unreachable and window.detail == "127.0.0.1:1/metrics: refused"
    assert (window.requests, window.errors, window.latency_buckets) == (0.0, 0.0, ())


# -- histogram_quantile -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (0.1, 0.04),  # rank 4 of 10 in [0, 0.1]
        (0.25, 0.1),  # rank 10: the end of the first bucket
        (0.5, 0.3),  # rank 20: 10 of the 20 in (0.1, 0.5] -> 0.1 + 0.4 * 10/20
        (0.9, 0.8),  # rank 36: 6 of 10 in (0.5, 1] -> 0.5 + 0.5 * 6/10
        (1.0, 1.0),  # rank 40 falls in (0.5, 1]: its upper bound
        (0.0, 0.0),  # rank 0 in a non-empty first bucket: its lower end
    ],
)
def test_histogram_quantile_interpolates_inside_the_bucket(q, expected):
    assert histogram_quantile(q, LATENCY) == pytest.approx(expected)


def test_histogram_quantile_in_the_inf_bucket_is_the_highest_finite_bound():
    buckets = ((0.1, 2.0), (0.5, 4.0), (INF, 10.0))
    assert histogram_quantile(0.5, buckets) == 0.5  # rank 5 > 4: above every finite bound
    assert histogram_quantile(0.99, buckets) == 0.5
    assert histogram_quantile(0.3, buckets) == pytest.approx(0.3)  # rank 3: 0.1 + 0.4 * 1/2


def test_histogram_quantile_sorts_and_repairs_buckets_first():
    shuffled = ((INF, 40.0), (0.5, 30.0), (0.1, 10.0), (1.0, 40.0))
    assert histogram_quantile(0.5, shuffled) == pytest.approx(0.3)
    dipped = ((0.1, 10.0), (0.5, 8.0), (INF, 20.0))  # 0.5's 8 becomes 10
    assert histogram_quantile(0.5, dipped) == pytest.approx(0.1)
    assert histogram_quantile(0.75, dipped) == 0.5


def test_histogram_quantile_with_a_non_positive_first_bound_returns_it():
    buckets = ((-1.0, 2.0), (1.0, 4.0), (INF, 4.0))
    assert histogram_quantile(0.25, buckets) == -1.0  # no interpolation from 0 down to -1
    assert histogram_quantile(0.75, buckets) == pytest.approx(0.0)  # -1 + 2 * 1/2


@pytest.mark.parametrize(
    "buckets",
    [
        (),
        ((INF, 5.0),),  # a single bucket
        ((0.1, 2.0), (0.5, 4.0)),  # no +Inf bucket
        ((0.1, 0.0), (0.5, 0.0), (INF, 0.0)),  # no observations in the window
    ],
)
def test_histogram_quantile_is_nan_without_a_usable_histogram(buckets):
    assert math.isnan(histogram_quantile(0.5, buckets))


@pytest.mark.parametrize("q", [-0.01, 1.01, math.nan])
def test_histogram_quantile_refuses_a_quantile_outside_0_1(q):
    # PromQL answers -Inf / +Inf / NaN here; a quantile in our code is a constant, so a mistake
    # in it is raised instead of flowing into a verdict
    with pytest.raises(ValueError, match="quantile must be within"):
        histogram_quantile(q, LATENCY)


# -- the window itself ------------------------------------------------------------------------


def test_a_window_derives_rate_rows_counts_and_quantiles():
    window = VariantWindow(
        "8",
        requests=40.0,
        errors=10.0,
        latency_buckets=LATENCY,
        probability_buckets=((0.2, 3.0), (0.6, 8.0), (INF, 12.0)),
    )
    assert window.error_rate == 0.25
    # PromQL's increase() extrapolates: fractions below one request are still a rate
    assert VariantWindow("8", requests=0.5, errors=0.5).error_rate == 1.0
    assert window.predicted_rows == 12.0
    assert window.latency_observations == 40.0
    assert window.probability_counts() == (3.0, 5.0, 4.0)
    assert window.quantile(0.5) == pytest.approx(0.3)
    assert window.quantile(0.9) == pytest.approx(0.8)


def test_a_window_without_requests_has_rate_zero_and_no_quantile():
    window = VariantWindow("9", errors=0.0, probability_buckets=((0.5, 4.0),))
    assert window.error_rate == 0.0
    assert window.predicted_rows == 0.0  # no +Inf bucket: nothing counted
    assert window.latency_observations == 0.0
    assert math.isnan(window.quantile(0.99))


def test_an_empty_window_is_zeros_and_not_unreachable():
    window = empty_window("10", seconds=3.5, detail="not serving")
    assert window == VariantWindow("10", seconds=3.5, detail="not serving")
    assert (window.requests, window.errors, window.unreachable) == (0.0, 0.0, False)
    assert window.probability_counts() == ()
    assert empty_window("11") == VariantWindow("11")
