"""The rollout engine: one loop for every strategy, steps plus analysis plus an automatic abort.

A strategy is a list of traffic steps (canary 10 % -> 50 %, blue/green's one switch, shadow's
mirror). Each step holds its traffic until it is judged healthy on enough time AND requests, or
rolls back at the first breach: all traffic to the stable version, the candidate stopped, the
verdict recorded. The engine talks only to the TrafficControl and MetricsSource interfaces, so
the same loop drives the local routers and Seldon Core on Kubernetes.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlcicd.config import RolloutConfig
from mlcicd.errors import GateRejected
from mlcicd.release.audit import now_utc
from mlcicd.release.rollout.aborts import abort_requested, clear_abort
from mlcicd.release.rollout.analysis import Check, Verdict, judge
from mlcicd.release.rollout.shadow import shadow_report
from mlcicd.serving.contract import EndpointState, ModelRef, ServingError, TrafficControl
from mlcicd.serving.metrics.window import MetricsSource, VariantWindow

STABLE, CANARY, SHADOW, PREVIOUS = "stable", "canary", "shadow", "previous"


class RolloutAborted(GateRejected):
    """The analysis (or a person) stopped the rollout; traffic went back to the stable version."""

    gate = "rollout_analysis"

    def __init__(self, message: str, verdict: Verdict | None = None) -> None:
        super().__init__(message)
        self.verdict = verdict


@dataclass
class RolloutResult:
    """How a rollout ended; `promoted` says whether the candidate now takes all traffic."""

    strategy: str
    promoted: bool
    state: EndpointState | None
    verdicts: list[Verdict] = field(default_factory=list)
    shadow_report: dict[str, Any] | None = None


@dataclass
class _Run:
    """The rollout in progress, as persisted beside the deployment after every change."""

    traffic: TrafficControl
    environment: str
    strategy: str
    candidate: str
    stable: str
    model_name: str
    say: Callable[[str], None]
    step: str = "starting"
    verdicts: list[Verdict] = field(default_factory=list)
    started_at: str = field(default_factory=now_utc)

    def record(self, state: str = "running", **extra: Any) -> None:
        self.traffic.write_rollout(
            self.environment,
            {
                "strategy": self.strategy,
                "candidate": self.candidate,
                "stable": self.stable,
                "model_name": self.model_name,
                "state": state,
                "step": self.step,
                "started_at": self.started_at,
                "updated_at": now_utc(),
                "owner_pid": os.getpid(),
                "owner_start": _start_ticks(os.getpid()),
                "verdicts": [v.to_dict() for v in self.verdicts[-20:]],
                **extra,
            },
        )


def _start_ticks(pid: int) -> int | None:
    from mlcicd.serving.local.processes import process_start_ticks

    return process_start_ticks(pid)


def owner_alive(rollout: dict[str, Any]) -> bool:
    """True while the process that runs `rollout` is alive (the same process, not a reused PID)."""
    pid, start = rollout.get("owner_pid"), rollout.get("owner_start")
    return isinstance(pid, int) and start is not None and _start_ticks(pid) == start


def recover_interrupted(
    traffic: TrafficControl, environment: str, say: Callable[[str], None]
) -> str:
    """A rollout whose process died leaves a split: send all traffic back to its stable version.

    Returns what was done ("" when there was nothing to recover); raises when another live
    process is rolling out to the same environment.
    """
    rollout = traffic.read_rollout(environment)
    if not rollout or rollout.get("state") != "running":
        return ""
    if owner_alive(rollout):
        raise ServingError(
            f"a {rollout.get('strategy')} rollout of v{rollout.get('candidate')} to {environment} "
            f"is running (pid {rollout.get('owner_pid')}, step {rollout.get('step')}); wait for "
            "it to finish or abort it (console: Deployments > Abort rollout)"
        )
    stable, candidate = str(rollout.get("stable", "")), str(rollout.get("candidate", ""))
    status = traffic.status(environment)
    running = {v.version for v in status.variants if v.running}
    if stable and stable in running:
        traffic.set_traffic(environment, {stable: (STABLE, 100)})
        if candidate and candidate != stable:
            traffic.stop_variant(environment, candidate)
    note = (
        f"the {rollout.get('strategy')} rollout of v{candidate} was interrupted at step "
        f"{rollout.get('step')}; all traffic went back to v{stable}"
    )
    traffic.write_rollout(
        environment, {**rollout, "state": "rolled_back", "updated_at": now_utc(), "detail": note}
    )
    say(note)
    return note


def run_rollout(
    traffic: TrafficControl,
    config: RolloutConfig,
    environment: str,
    model: ModelRef,
    verify: Callable[[str], None],
    say: Callable[[str], None],
    metrics: MetricsSource | None = None,
) -> RolloutResult:
    """Roll `model` out beside the stable version with the configured strategy.

    The caller has checked the approval and chosen this path (there is a stable version serving
    and the strategy is not `direct`). Raises RolloutAborted on a breach, after the rollback.
    """
    status = traffic.status(environment)
    stable = next((v for v in status.variants if v.role == STABLE and v.running), None)
    if stable is None:
        raise ServingError(f"{environment} has no stable version serving; deploy directly first")
    if stable.version == model.version:
        raise ServingError(f"v{model.version} is already the stable version of {environment}")
    run = _Run(
        traffic, environment, config.strategy, model.version, stable.version, model.name, say
    )
    source = metrics or traffic.metrics_source(environment, model.name)
    clear_abort(model.name, environment)
    run.record()
    baseline_mark = source.mark()
    say(f"starting v{model.version} beside v{stable.version} ({config.strategy} rollout)")
    try:
        traffic.start_variant(environment, model, verify, config.candidate_ready_seconds)
        report = None
        strategy: str = config.strategy
        if strategy == "shadow":
            report = _shadow(run, config, source)
            strategy = config.shadow.then
            if strategy == "stop":
                traffic.set_traffic(environment, {run.stable: (STABLE, 100)})
                traffic.stop_variant(environment, run.candidate)
                run.step = "shadow finished"
                run.record("shadowed", shadow_report=report)
                return RolloutResult("shadow", False, None, run.verdicts, report)
        if strategy == "canary":
            _canary(run, config, source)
            _switch(run, keep_previous=None)
        elif strategy == "blue_green":
            baseline = source.window(baseline_mark, [run.stable]).get(run.stable)
            _switch(run, keep_previous=config.blue_green.keep_previous_seconds)
            _observe(run, config, source, baseline)
        else:  # direct after a shadow
            _switch(run, keep_previous=None)
    except RolloutAborted as aborted:
        _roll_back(run, str(aborted), aborted.verdict)
        raise
    except BaseException as exc:
        _roll_back(run, f"{type(exc).__name__}: {exc}", None)
        raise
    run.step = "done"
    run.record("succeeded", shadow_report=report)
    say(f"v{model.version} takes all traffic in {environment}")
    state = next(
        (v for v in traffic.status(environment).variants if v.version == model.version), None
    )
    return RolloutResult(
        config.strategy, True, traffic.status(environment).state if state else None,
        run.verdicts, report,
    )  # fmt: skip


def _switch(run: _Run, keep_previous: float | None) -> None:
    """All traffic to the candidate; the old stable stays warm (blue/green) or is stopped."""
    if keep_previous:
        run.traffic.set_traffic(
            run.environment,
            {run.candidate: (STABLE, 100), run.stable: (PREVIOUS, 0)},
            retire_after_seconds=keep_previous,
        )
        run.say(f"switched 100 % to v{run.candidate}; v{run.stable} stays warm")
    else:
        run.traffic.set_traffic(run.environment, {run.candidate: (STABLE, 100)})
        run.traffic.stop_variant(run.environment, run.stable)
        run.say(f"switched 100 % to v{run.candidate}; v{run.stable} stopped")
    run.step = "switched"
    run.record()


def _route_all_to_stable(run: _Run) -> str:
    """All traffic to the stable version, started again if its process died; "" when done.

    Returns why it could not be done: then the candidate keeps its traffic rather than leave
    nothing serving.
    """
    try:
        run.traffic.set_traffic(run.environment, {run.stable: (STABLE, 100)})
        return ""
    except ServingError as first:
        run.say(f"v{run.stable} cannot take the traffic ({first}); starting it again")
    uri = f"models:/{run.model_name}/{run.stable}"
    try:
        run.traffic.start_variant(
            run.environment, ModelRef(run.model_name, run.stable, uri), _verified_before, None
        )
        run.traffic.set_traffic(run.environment, {run.stable: (STABLE, 100)})
    except ServingError as again:
        return (
            f"v{run.stable} could not be started again ({again}); v{run.candidate} keeps its "
            f"traffic: `python run.py restart {run.environment}` once the cause is fixed"
        )
    return ""


def _verified_before(url: str) -> None:
    """The stable version passed its smoke test when it was deployed; it is only restarted."""


def _roll_back(run: _Run, why: str, verdict: Verdict | None) -> None:
    """Everything back to the stable version, the candidate stopped, the reason recorded."""
    stuck = _route_all_to_stable(run)
    if stuck:
        why = f"{why}; {stuck}"
    else:
        with contextlib.suppress(ServingError):
            run.traffic.stop_variant(run.environment, run.candidate)
    if verdict is not None and verdict not in run.verdicts:
        run.verdicts.append(verdict)
    run.record("rolled_back", detail=why)
    run.say(f"ROLLED BACK to v{run.stable}: {why}")


def _hold(
    run: _Run,
    config: RolloutConfig,
    source: MetricsSource,
    step: str,
    min_seconds: float,
    min_requests: int,
    max_seconds: float,
    baseline: Callable[[dict[str, VariantWindow]], VariantWindow | None],
    stable_serves: bool = True,
) -> Verdict:
    """Judge the step every interval until healthy after min_seconds; abort at a breach.

    While `stable_serves` (canary, shadow), a stable version that cannot be reached aborts the
    step too: its share of the clients gets no answer, and nothing can be compared with it.
    """
    run.step = step
    run.record()
    mark = source.mark()
    started = time.monotonic()
    interval = config.analysis.interval_seconds
    while True:
        time.sleep(min(interval, max(0.0, max_seconds - (time.monotonic() - started))))
        elapsed = time.monotonic() - started
        request = abort_requested(run.model_name, run.environment)
        if request is not None:
            clear_abort(run.model_name, run.environment)
            raise RolloutAborted(
                f"{step}: aborted by {request.get('actor')}: {request.get('reason')}", None
            )
        _check_router(run, step)
        windows = source.window(mark, [run.candidate, run.stable])
        stable_window = windows.get(run.stable)
        if stable_serves and stable_window is not None and stable_window.unreachable:
            raise RolloutAborted(
                f"{step}: the stable version v{run.stable} could not be reached "
                f"({stable_window.detail})"
            )
        candidate = windows.get(run.candidate) or VariantWindow(run.candidate)
        verdict = judge(step, candidate, baseline(windows), config.analysis, min_requests)
        run.verdicts.append(verdict)
        run.record()
        if verdict.outcome == "breach":
            raise RolloutAborted(f"{step}: {verdict.summary()}", verdict)
        if verdict.outcome == "healthy" and elapsed >= min_seconds:
            run.say(f"{step}: healthy after {elapsed:.0f} s ({verdict.summary()})")
            return verdict
        run.say(f"{step}: {verdict.outcome}, {elapsed:.0f} s, {candidate.requests:.0f} requests")
        if elapsed >= max_seconds:
            check = Check(
                "traffic",
                candidate.requests,
                float(min_requests),
                False,
                f"not judged healthy within {max_seconds:g} s ({candidate.requests:.0f} of "
                f"{min_requests} requests; {verdict.summary()})",
            )
            timed_out = Verdict(
                step, run.candidate, run.stable, "breach", (check,), candidate.requests, 0.0
            )
            raise RolloutAborted(f"{step}: {check.detail}", timed_out)


def _check_router(run: _Run, step: str) -> None:
    """A dead router serves no client and hides the candidate's timeouts: abort the step.

    The rollback's traffic change starts the router again on the persisted table (stable only).
    """
    router = run.traffic.status(run.environment).router
    if router is not None and not router.running:
        raise RolloutAborted(
            f"{step}: the router of {run.environment} (port {router.port}, pid {router.pid}) "
            "stopped; the rollback starts it again with all traffic on the stable version"
        )


def _canary(run: _Run, config: RolloutConfig, source: MetricsSource) -> None:
    for step in config.canary.steps:
        run.traffic.set_traffic(
            run.environment,
            {run.stable: (STABLE, 100 - step.weight), run.candidate: (CANARY, step.weight)},
        )
        run.say(f"canary {step.weight} %: v{run.candidate}, {100 - step.weight} %: v{run.stable}")
        _hold(
            run, config, source, f"canary {step.weight} %", step.min_seconds,
            step.min_requests, config.canary.max_step_seconds,
            lambda windows: windows.get(run.stable),
        )  # fmt: skip


def _observe(
    run: _Run, config: RolloutConfig, source: MetricsSource, baseline: VariantWindow | None
) -> None:
    """Blue/green after the switch: the candidate alone, against the old version's last window."""
    settings = config.blue_green
    if settings.observe_seconds <= 0:
        return
    need = config.analysis.min_rows_to_compare
    usable = baseline if baseline is not None and baseline.requests >= need else None
    if usable is None:
        run.say("blue/green: too little traffic before the switch to compare; error rate only")

    def _baseline(_windows: dict[str, VariantWindow]) -> VariantWindow | None:
        return usable

    # a breach switches back at once (the old version is still warm): see _roll_back
    _hold(
        run, config, source, "blue/green observation", settings.observe_seconds,
        settings.observe_min_requests, max(settings.observe_seconds * 10, 60.0), _baseline,
        stable_serves=False,  # the old version only waits warm; the candidate serves
    )  # fmt: skip


def _shadow(run: _Run, config: RolloutConfig, source: MetricsSource) -> dict[str, Any]:
    settings = config.shadow
    run.traffic.set_traffic(
        run.environment, {run.stable: (STABLE, 100), run.candidate: (SHADOW, 0)}
    )
    run.say(f"shadow: every request mirrored to v{run.candidate}; its answers are only logged")
    started = now_utc()
    verdict = _hold(
        run, config, source, "shadow", settings.min_seconds, settings.min_requests,
        settings.max_seconds, lambda windows: windows.get(run.stable),
    )  # fmt: skip
    return shadow_report(run.traffic, run.environment, run.stable, run.candidate, started, verdict)
