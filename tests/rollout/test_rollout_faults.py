"""Faults in the middle of a rollout, with real processes: each ends with a clear message and
all traffic on the stable version, never a silent split.

A killed candidate or router aborts the step and rolls back; a router killed between rollouts
comes back with its persisted table; a rollout whose process is killed is refused as a second
rollout while it lives and rolled back by the next one once it is dead; a candidate that never
gets healthy leaves the environment as it was.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from mlcicd.config import AnalysisConfig, CanaryConfig, CanaryStep, RolloutConfig
from mlcicd.release.rollout.aborts import abort_requested, request_abort
from mlcicd.release.rollout.engine import RolloutAborted, recover_interrupted, run_rollout
from mlcicd.serving.contract import ModelRef, ServingError
from mlcicd.serving.router.control import router_state
from tests.helpers.session import REPO_ROOT
from tests.rollout.conftest import ENV, MODEL_NAME, ref, roles, steady_traffic

# Steps long enough to act in the middle of the first one; a fault ends them early.
LONG = RolloutConfig(
    strategy="canary",
    analysis=AnalysisConfig(min_rows_to_compare=60, interval_seconds=1.0, latency_floor_ms=50),
    canary=CanaryConfig(
        steps=[
            CanaryStep(weight=25, min_seconds=120, min_requests=25),
            CanaryStep(weight=50, min_seconds=120, min_requests=40),
        ],
        max_step_seconds=240,
    ),
    candidate_ready_seconds=60,
)


def _wait_for(what: str, condition: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _in_canary(backend, candidate: str) -> Callable[[], bool]:
    return lambda: roles(backend).get(candidate, ("", 0))[0] == "canary"


def _rollout_in_thread(backend, candidate: str) -> tuple[threading.Thread, list[Any]]:
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(run_rollout(backend, LONG, ENV, ref(candidate), lambda url: None, print))
        except BaseException as exc:  # the test reads what ended the rollout
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    return worker, outcome


def _variant_pid(backend, version: str) -> int:
    return next(v.pid for v in backend.status(ENV).variants if v.version == version)


def test_a_candidate_killed_mid_canary_is_rolled_back_while_the_stable_answers(
    backend, versions, stable, golden_rows
) -> None:
    candidate = versions.by_mode["healthy-too"]
    with steady_traffic(backend, golden_rows) as seen:
        worker, outcome = _rollout_in_thread(backend, candidate)
        _wait_for("the canary step", _in_canary(backend, candidate))
        time.sleep(1.0)
        os.killpg(_variant_pid(backend, candidate), signal.SIGKILL)
        worker.join(timeout=60)
    [aborted] = outcome
    assert isinstance(aborted, RolloutAborted), aborted
    assert aborted.verdict is not None and "could not be reached" in aborted.verdict.summary()
    assert roles(backend) == {stable: ("stable", 100)}
    # the router retried the dead canary's share on the stable version
    assert seen.by_variant[stable] > 0 and seen.failed <= 2, seen.summary()
    assert backend.read_rollout(ENV)["state"] == "rolled_back"


def test_a_stable_version_killed_mid_canary_is_started_again_before_the_candidate_stops(
    backend, versions, stable, golden_rows
) -> None:
    candidate = versions.by_mode["healthy-too"]
    worker, outcome = _rollout_in_thread(backend, candidate)
    _wait_for("the canary step", _in_canary(backend, candidate))
    killed = _variant_pid(backend, stable)
    os.killpg(killed, signal.SIGKILL)
    worker.join(timeout=240)
    [aborted] = outcome
    assert isinstance(aborted, RolloutAborted), aborted
    assert f"the stable version v{stable} could not be reached" in str(aborted)
    # the stable version serves again (a new process), all traffic on it, the candidate stopped
    assert roles(backend) == {stable: ("stable", 100)}
    assert _variant_pid(backend, stable) != killed
    with steady_traffic(backend, golden_rows.head(20)) as seen:
        time.sleep(1.5)
    assert seen.failed == 0 and set(seen.by_variant) == {stable}, seen.summary()
    assert backend.read_rollout(ENV)["state"] == "rolled_back"


def test_an_abort_requested_by_a_reviewer_rolls_back_at_the_next_check(
    backend, versions, stable, golden_rows
) -> None:
    candidate = versions.by_mode["healthy-too"]
    with steady_traffic(backend, golden_rows) as seen:
        worker, outcome = _rollout_in_thread(backend, candidate)
        _wait_for("the canary step", _in_canary(backend, candidate))
        request_abort(MODEL_NAME, ENV, "alice", "the dashboard looks wrong")
        worker.join(timeout=60)
    [aborted] = outcome
    assert isinstance(aborted, RolloutAborted), aborted
    assert str(aborted) == "canary 25 %: aborted by alice: the dashboard looks wrong"
    assert roles(backend) == {stable: ("stable", 100)}
    assert abort_requested(MODEL_NAME, ENV) is None  # consumed: the next rollout starts clean
    record = backend.read_rollout(ENV)
    assert record["state"] == "rolled_back" and "aborted by alice" in record["detail"]
    assert seen.failed == 0, seen.summary()


def test_a_router_killed_mid_canary_aborts_and_comes_back_on_the_stable_version(
    backend, versions, stable, golden_rows
) -> None:
    candidate = versions.by_mode["healthy-too"]
    worker, outcome = _rollout_in_thread(backend, candidate)
    _wait_for("the canary step", _in_canary(backend, candidate))
    router = backend.status(ENV).router
    assert router is not None and router.running
    os.kill(router.pid, signal.SIGKILL)
    worker.join(timeout=60)
    [aborted] = outcome
    assert isinstance(aborted, RolloutAborted), aborted
    assert f"the router of {ENV} (port {router.port}, pid {router.pid}) stopped" in str(aborted)
    after = backend.status(ENV).router
    assert after is not None and after.running and after.pid != router.pid
    assert roles(backend) == {stable: ("stable", 100)}
    with steady_traffic(backend, golden_rows.head(20)) as seen:
        time.sleep(1.5)
    assert seen.failed == 0 and set(seen.by_variant) == {stable}, seen.summary()


def test_a_router_killed_between_changes_restarts_with_its_persisted_split(
    backend, versions, stable
) -> None:
    candidate = versions.by_mode["healthy-too"]
    backend.start_variant(ENV, ref(candidate), lambda url: None)
    try:
        backend.set_traffic(ENV, {stable: ("stable", 75), candidate: ("canary", 25)})
        router = backend.status(ENV).router
        assert router is not None
        os.kill(router.pid, signal.SIGKILL)
        _wait_for("the router to die", lambda: not backend.status(ENV).router.running, 10)
        status = backend.status(ENV)
        assert not status.running and "python run.py restart production" in status.detail
        backend.restart(ENV)
        state = router_state(backend.ports[ENV])
        assert state is not None
        weights = {v["version"]: (v["role"], v["weight"]) for v in state["table"]["variants"]}
        assert weights == {stable: ("stable", 75), candidate: ("canary", 25)}
        assert roles(backend) == {stable: ("stable", 75), candidate: ("canary", 25)}
    finally:
        backend.set_traffic(ENV, {stable: ("stable", 100)})
        backend.stop_variant(ENV, candidate)


_PROMOTE = """
import sys
from pathlib import Path
from mlcicd.serving.local.backend import LocalSeldonBackend
from mlcicd.release.rollout.aborts import abort_requested, request_abort
from mlcicd.release.rollout.engine import run_rollout
from tests.rollout.test_rollout_faults import LONG
from tests.rollout.conftest import ENV, ref
root, staging, production, tracking_uri, candidate = sys.argv[1:]
backend = LocalSeldonBackend(
    Path(root), {"staging": int(staging), "production": int(production)}, tracking_uri
)
run_rollout(backend, LONG, ENV, ref(candidate), lambda url: None, lambda line: print(line, flush=True))
"""


def test_a_rollout_killed_mid_canary_blocks_a_second_one_then_is_rolled_back(
    backend, versions, stable, golden_rows
) -> None:
    candidate = versions.by_mode["healthy-too"]
    ports = backend.ports
    process = subprocess.Popen(
        [sys.executable, "-c", _PROMOTE, str(backend.root), str(ports["staging"]),
         str(ports["production"]), versions.tracking_uri, candidate],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        with steady_traffic(backend, golden_rows) as seen:
            in_canary = _in_canary(backend, candidate)

            def canary_or_dead() -> bool:
                assert process.poll() is None, process.communicate(timeout=5)[0]
                return in_canary()

            _wait_for("the canary step", canary_or_dead, timeout=120)
            # a second rollout to the same environment is refused while the first one lives
            with pytest.raises(ServingError, match=r"rollout of v\d+ to production is running"):
                recover_interrupted(backend, ENV, print)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            # the split stays as the killed process left it: still served, never silently moved
            assert roles(backend) == {stable: ("stable", 75), candidate: ("canary", 25)}
            note = recover_interrupted(backend, ENV, print)
        assert f"rollout of v{candidate} was interrupted at step canary 25 %" in note
        assert f"all traffic went back to v{stable}" in note
        assert roles(backend) == {stable: ("stable", 100)}
        record = backend.read_rollout(ENV)
        assert record["state"] == "rolled_back" and record["detail"] == note
        assert recover_interrupted(backend, ENV, print) == ""  # nothing more to do
        assert seen.failed == 0, seen.summary()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        output = process.communicate(timeout=30)[0]
        print(output)


def test_a_candidate_that_never_gets_healthy_leaves_the_environment_as_it_was(
    backend, stable, golden_rows
) -> None:
    missing = ModelRef(MODEL_NAME, "999", f"models:/{MODEL_NAME}/999")
    with (
        steady_traffic(backend, golden_rows.head(50)) as seen,
        pytest.raises(ServingError, match="model server for rollout-test v999"),
    ):
        run_rollout(backend, LONG, ENV, missing, lambda url: None, print)
    assert roles(backend) == {stable: ("stable", 100)}
    record = backend.read_rollout(ENV)
    assert record["state"] == "rolled_back" and record["candidate"] == "999"
    assert "ServingError" in record["detail"]
    assert seen.failed == 0 and set(seen.by_variant) == {stable}, seen.summary()


def test_a_candidate_whose_smoke_test_fails_gets_no_traffic(backend, versions, stable) -> None:
    candidate = versions.by_mode["healthy-too"]

    def refuse(url: str) -> None:
        requests.get(url, timeout=5)  # it answers, but the smoke test finds it wanting
        raise ServingError(f"smoke test failed at {url}")

    with pytest.raises(ServingError, match="smoke test failed"):
        run_rollout(backend, LONG, ENV, ref(candidate), refuse, print)
    assert roles(backend) == {stable: ("stable", 100)}
    assert candidate not in {v.version for v in backend.status(ENV).variants}
