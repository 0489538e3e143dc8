"""A rollout config that cannot work is refused before anything runs, naming the real key."""

from __future__ import annotations

import pytest

from mlcicd.config import ConfigError, load_config

STEP = {"weight": 20, "min_seconds": 10, "min_requests": 50}


@pytest.mark.parametrize(
    ("rollout", "expected"),
    [
        ({"strategy": "linear"}, ["rollout.strategy", "'direct', 'blue_green', 'canary' or 'shadow'"]),
        (
            {"canary": {"steps": [{**STEP, "weight": 50}, {**STEP, "weight": 20}]}},
            ["rollout.canary.steps weights must increase, got [50, 20]"],
        ),
        (
            {"canary": {"steps": [STEP, {**STEP, "weight": 20}]}},
            ["rollout.canary.steps weights must increase, got [20, 20]"],
        ),
        ({"canary": {"steps": []}}, ["rollout.canary.steps must name at least one step"]),
        ({"canary": {"steps": [{**STEP, "min_seconds": 0}]}}, ["rollout.canary.steps.0.min_seconds"]),
        ({"canary": {"steps": [{**STEP, "weight": 100}]}}, ["rollout.canary.steps.0.weight"]),
        ({"canary": {"steps": [{**STEP, "min_requests": 0}]}}, ["rollout.canary.steps.0.min_requests"]),
        (
            {"canary": {"steps": [{**STEP, "min_seconds": 600}], "max_step_seconds": 60}},
            ["rollout.canary.max_step_seconds (60) is shorter than a step's min_seconds (600)"],
        ),
        ({"shadow": {"min_seconds": 0}}, ["rollout.shadow.min_seconds"]),
        (
            {"shadow": {"min_seconds": 120, "max_seconds": 60}},
            ["rollout.shadow.max_seconds (60) is shorter than rollout.shadow.min_seconds (120)"],
        ),
        ({"shadow": {"then": "maybe"}}, ["rollout.shadow.then"]),
        ({"analysis": {"max_error_rate": 1.5}}, ["rollout.analysis.max_error_rate"]),
        ({"analysis": {"max_p99_ratio": 1.0}}, ["rollout.analysis.max_p99_ratio"]),
        ({"analysis": {"interval_seconds": 0}}, ["rollout.analysis.interval_seconds"]),
        ({"blue_green": {"keep_previous_seconds": -1}}, ["rollout.blue_green.keep_previous_seconds"]),
        ({"canary": {"step": [STEP]}}, ["rollout.canary.step"]),
        (
            {"canary_max_error_rate": 0.02},
            ["rollout.canary_max_error_rate is now rollout.analysis.max_error_rate"],
        ),
    ],
)  # fmt: skip
def test_an_invalid_rollout_is_refused_naming_the_key(write_config, rollout, expected) -> None:
    path = write_config({"rollout": rollout})
    with pytest.raises(ConfigError) as err:
        load_config(str(path))
    message = str(err.value)
    for part in expected:
        assert part in message, message


def test_a_valid_canary_keeps_every_setting(write_config) -> None:
    path = write_config({"rollout": {
        "strategy": "canary",
        "canary": {"steps": [STEP, {**STEP, "weight": 60}], "max_step_seconds": 90},
        "analysis": {"max_error_rate": 0.02, "latency_floor_ms": 25},
    }})  # fmt: skip
    rollout = load_config(str(path))[0].rollout
    assert rollout.strategy == "canary"
    assert [(s.weight, s.min_seconds, s.min_requests) for s in rollout.canary.steps] == [
        (20, 10, 50), (60, 10, 50),
    ]  # fmt: skip
    assert (rollout.canary.max_step_seconds, rollout.analysis.max_error_rate) == (90, 0.02)
    assert (rollout.analysis.latency_floor_ms, rollout.analysis.max_p99_ratio) == (25, 2.0)
