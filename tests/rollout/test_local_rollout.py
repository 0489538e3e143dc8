"""Rollouts with real processes: model servers, the router, their metrics, the engine.

A healthy canary goes through every step and takes all traffic; candidates that fail on a share
of requests, answer slowly, or shift their predictions are rolled back by the matching metric
while the stable version keeps answering; blue/green switches and switches back in one weight
change; a shadow run writes its report and serves nothing from the shadow.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from mlcicd.config import (
    AnalysisConfig,
    BlueGreenConfig,
    CanaryConfig,
    CanaryStep,
    RolloutConfig,
    ShadowConfig,
)
from mlcicd.release.rollout.engine import RolloutAborted, run_rollout
from mlcicd.serving.replay import ReplayResult
from tests.rollout.conftest import ENV, ref, roles, steady_traffic, warm_up


def _config(strategy: str) -> RolloutConfig:
    # Short steps; PSI judged from 100 rows a side, so its threshold leaves room for noise
    # between two equal models while a real shift (PSI > 1) is caught.
    return RolloutConfig(
        strategy=strategy,
        # a latency floor of 50 ms: two equal servers on a loaded 2-core machine differ at p99
        analysis=AnalysisConfig(
            min_rows_to_compare=60,
            interval_seconds=1.0,
            max_prediction_psi=0.5,
            latency_floor_ms=50,
        ),
        canary=CanaryConfig(
            steps=[
                CanaryStep(weight=25, min_seconds=2, min_requests=25),
                CanaryStep(weight=50, min_seconds=2, min_requests=40),
            ],
            max_step_seconds=40,
        ),
        blue_green=BlueGreenConfig(
            observe_seconds=2, observe_min_requests=30, keep_previous_seconds=120
        ),
        shadow=ShadowConfig(min_seconds=2, min_requests=60, max_seconds=40, then="stop"),
    )


def _rollout(backend, strategy: str, version: str, rows) -> tuple[Any, ReplayResult]:
    # blue/green judges the candidate on its first client requests: warm it as a smoke test would
    verify = warm_up(rows) if strategy == "blue_green" else (lambda url: None)
    with steady_traffic(backend, rows) as seen:
        time.sleep(1.0)
        try:
            outcome: Any = run_rollout(
                backend, _config(strategy), ENV, ref(version), verify, say=print
            )
        except RolloutAborted as aborted:
            outcome = aborted
        time.sleep(0.5)
    return outcome, seen


def test_a_healthy_canary_goes_through_every_step(backend, versions, stable, golden_rows):
    candidate = versions.by_mode["healthy-too"]
    outcome, seen = _rollout(backend, "canary", candidate, golden_rows)
    assert not isinstance(outcome, RolloutAborted), outcome
    steps = [v.step for v in outcome.verdicts if v.outcome == "healthy"]
    assert steps == ["canary 25 %", "canary 50 %"]
    assert roles(backend) == {candidate: ("stable", 100)}
    assert seen.failed == 0 and seen.by_variant[stable] > 0 and seen.by_variant[candidate] > 0
    record = backend.read_rollout(ENV)
    assert record["state"] == "succeeded" and record["candidate"] == candidate
    # leave the first version stable again for the other tests
    backend.deploy(ENV, ref(stable), verify=lambda url: None)


@pytest.mark.parametrize(
    ("mode", "metric", "named"),
    [
        ("erroring", "error_rate", "error rate"),
        ("slow", "p99_ratio", "p99"),
        ("shifted", "prediction_psi", "PSI"),
    ],
)
def test_a_bad_canary_is_rolled_back_by_its_metric(
    backend, versions, stable, golden_rows, mode, metric, named
):
    candidate = versions.by_mode[mode]
    outcome, seen = _rollout(backend, "canary", candidate, golden_rows)
    assert isinstance(outcome, RolloutAborted), f"{mode} candidate was not rolled back"
    assert outcome.verdict is not None
    assert [c.metric for c in outcome.verdict.breaches] == [metric], outcome.verdict.summary()
    assert roles(backend) == {stable: ("stable", 100)}
    record = backend.read_rollout(ENV)
    assert record["state"] == "rolled_back" and named in record["detail"]
    # the stable version answered every request routed to it
    assert seen.by_variant[stable] > 0
    if mode != "erroring":
        assert seen.failed == 0


def test_blue_green_switches_at_once_and_back_in_one_weight_change(
    backend, versions, stable, golden_rows
):
    candidate = versions.by_mode["healthy-too"]
    outcome, seen = _rollout(backend, "blue_green", candidate, golden_rows)
    assert not isinstance(outcome, RolloutAborted), outcome
    assert roles(backend) == {candidate: ("stable", 100), stable: ("previous", 0)}
    assert seen.failed == 0
    started = time.monotonic()
    backend.set_traffic(ENV, {stable: ("stable", 100), candidate: ("previous", 0)})
    assert time.monotonic() - started < 1.0
    assert roles(backend) == {stable: ("stable", 100), candidate: ("previous", 0)}
    backend.stop_variant(ENV, candidate)


def test_a_shadow_writes_its_report_and_serves_nothing_from_the_shadow(
    backend, versions, stable, golden_rows
):
    candidate = versions.by_mode["shifted"]
    config = _config("shadow")
    # the shifted model would breach the PSI, and a mirrored copy runs beside the primary on two
    # cores: judge this shadow on errors; the point here is the report and serving nothing
    config = config.model_copy(
        update={
            "analysis": config.analysis.model_copy(
                update={"max_prediction_psi": 100.0, "max_p99_ratio": 10.0}
            )
        }
    )
    with steady_traffic(backend, golden_rows) as seen:
        time.sleep(1.0)
        result = run_rollout(backend, config, ENV, ref(candidate), warm_up(golden_rows), print)
    assert not result.promoted
    assert seen.failed == 0 and set(seen.by_variant) == {stable}  # nothing served by the shadow
    report = result.shadow_report
    assert report is not None and report["shadow_version"] == candidate
    comparison = report["comparison"]
    assert comparison["mirrored_requests"] >= 60
    assert comparison["mean_abs_probability_difference"] > 0.2  # p + 0.4 against p
    assert roles(backend) == {stable: ("stable", 100)}
