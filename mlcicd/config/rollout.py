"""How an approved version reaches production: the strategy, its steps and its analysis.

The thresholds are the usual automatic-rollback triggers (error rate above 1 %, p99 latency above
twice the stable version's, a prediction shift with PSI above 0.2). Every one can be changed per
environment config; none can be switched off silently: a breach always rolls back.
"""

from __future__ import annotations

import itertools
from typing import Any, Literal

from pydantic import Field, model_validator

from mlcicd.config.base import StrictModel

Strategy = Literal["direct", "blue_green", "canary", "shadow"]
STRATEGIES: tuple[str, ...] = ("direct", "blue_green", "canary", "shadow")

# Keys of the first rollout schema (validated, never executed) and where they went.
_RENAMED = {
    "canary_traffic_steps": "rollout.canary.steps (a list of {weight, min_seconds, min_requests})",
    "canary_step_minutes": "rollout.canary.steps[].min_seconds",
    "canary_max_error_rate": "rollout.analysis.max_error_rate",
}


class AnalysisConfig(StrictModel):
    """What judges each step: the candidate against the stable version on the same window."""

    max_error_rate: float = Field(0.01, ge=0.0, le=1.0)
    max_p99_ratio: float = Field(2.0, gt=1.0)
    # Below this p99 (ms) a latency ratio is noise: 3 ms against 1.4 ms is not a regression.
    latency_floor_ms: float = Field(10.0, ge=0.0)
    max_prediction_psi: float = Field(0.2, gt=0.0)
    # PSI and p99 need enough rows on both sides to mean anything.
    min_rows_to_compare: int = Field(200, ge=1)
    interval_seconds: float = Field(5.0, gt=0.0, le=300.0)


class CanaryStep(StrictModel):
    """Send `weight` % to the candidate and hold it for a time AND a number of its requests."""

    weight: int = Field(ge=1, le=99)
    min_seconds: float = Field(gt=0.0)
    min_requests: int = Field(ge=1)


def _default_steps() -> list[CanaryStep]:
    return [
        CanaryStep(weight=10, min_seconds=300, min_requests=500),
        CanaryStep(weight=50, min_seconds=300, min_requests=500),
    ]


class CanaryConfig(StrictModel):
    """Steps below 100 %; after the last healthy step the candidate gets all traffic."""

    steps: list[CanaryStep] = Field(default_factory=_default_steps)
    # A step that has not seen min_requests by then is aborted (nothing to judge it on).
    max_step_seconds: float = Field(1800.0, gt=0.0)

    @model_validator(mode="after")
    def _increasing(self) -> CanaryConfig:
        weights = [step.weight for step in self.steps]
        if not weights:
            raise ValueError("rollout.canary.steps must name at least one step")
        if any(b <= a for a, b in itertools.pairwise(weights)):
            raise ValueError(f"rollout.canary.steps weights must increase, got {weights}")
        slowest = max(step.min_seconds for step in self.steps)
        if self.max_step_seconds < slowest:
            raise ValueError(
                f"rollout.canary.max_step_seconds ({self.max_step_seconds:g}) is shorter than "
                f"a step's min_seconds ({slowest:g})"
            )
        return self


class BlueGreenConfig(StrictModel):
    """Switch all traffic at once; the previous version stays warm for an instant switch-back."""

    observe_seconds: float = Field(60.0, ge=0.0)
    observe_min_requests: int = Field(100, ge=0)
    keep_previous_seconds: float = Field(900.0, ge=0.0)


class ShadowConfig(StrictModel):
    """Mirror every request to the candidate (answers logged, never returned), then decide."""

    min_seconds: float = Field(300.0, gt=0.0)
    min_requests: int = Field(500, ge=1)
    max_seconds: float = Field(3600.0, gt=0.0)
    # After a healthy shadow: `stop` (report only, champion untouched) or go on with a strategy.
    then: Literal["stop", "direct", "blue_green", "canary"] = "stop"

    @model_validator(mode="after")
    def _bounded(self) -> ShadowConfig:
        if self.max_seconds < self.min_seconds:
            raise ValueError(
                f"rollout.shadow.max_seconds ({self.max_seconds:g}) is shorter than "
                f"rollout.shadow.min_seconds ({self.min_seconds:g})"
            )
        return self


class RolloutConfig(StrictModel):
    """The production rollout of this environment; the first one (no champion) is direct."""

    strategy: Strategy = "direct"
    analysis: AnalysisConfig = AnalysisConfig()
    canary: CanaryConfig = CanaryConfig()
    blue_green: BlueGreenConfig = BlueGreenConfig()
    shadow: ShadowConfig = ShadowConfig()
    candidate_ready_seconds: float = Field(180.0, gt=0.0)

    def longest_seconds(self) -> float:
        """The longest this environment's rollout can run before it ends on its own.

        What a deadline on the step that runs it must allow (a shorter one would kill a healthy
        canary); the engine gives up at these same bounds.
        """

        def strategy(name: str) -> float:
            if name == "canary":
                return len(self.canary.steps) * self.canary.max_step_seconds
            if name == "blue_green":
                observe = self.blue_green.observe_seconds
                return max(observe * 10, 60.0) if observe > 0 else 0.0
            if name == "shadow":
                then = self.shadow.then
                return self.shadow.max_seconds + (0.0 if then == "stop" else strategy(then))
            return 0.0

        return self.candidate_ready_seconds + strategy(self.strategy)

    @model_validator(mode="before")
    @classmethod
    def _renamed_keys(cls, raw: Any) -> Any:
        if isinstance(raw, dict):
            old = [key for key in _RENAMED if key in raw]
            if old:
                moves = "; ".join(f"rollout.{key} is now {_RENAMED[key]}" for key in old)
                raise ValueError(f"{moves} (see README 'Rollout')")
        return raw
