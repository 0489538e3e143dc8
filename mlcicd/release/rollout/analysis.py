"""The analysis that judges a rollout step: the candidate against the stable version, one window.

Pure functions over metric windows, so each rollback trigger is tested without servers: the
error rate of the candidate (5xx, timeouts, connection failures), its p99 latency relative to the
baseline's, and the shift of its predicted probabilities (population stability index). A check
that lacks the data to judge says so and neither passes nor fails the step.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from mlcicd.config import AnalysisConfig
from mlcicd.serving.metrics.window import VariantWindow
from mlcicd.statistics import population_stability_index

Outcome = Literal["healthy", "breach", "waiting"]


@dataclass(frozen=True)
class Check:
    """One trigger: its value on the window, the threshold, and whether it held."""

    metric: str
    value: float | None
    threshold: float
    passed: bool | None  # None: not enough data to judge
    detail: str


@dataclass(frozen=True)
class Verdict:
    """The judgement of one step on one window, as recorded with the rollout."""

    step: str
    candidate: str
    baseline: str
    outcome: Outcome
    checks: tuple[Check, ...]
    candidate_requests: float
    baseline_requests: float
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def breaches(self) -> list[Check]:
        """The checks that failed."""
        return [check for check in self.checks if check.passed is False]

    def summary(self) -> str:
        """One line a person reads in the CLI output and the audit log."""
        if self.breaches:
            return "; ".join(check.detail for check in self.breaches)
        judged = [c.detail for c in self.checks if c.passed is not None]
        return "; ".join(judged) if judged else "nothing judged yet"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the rollout state file, the audit log and `status --json`."""
        return {**asdict(self), "checks": [asdict(check) for check in self.checks]}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Verdict:
        """The inverse of to_dict."""
        checks = tuple(Check(**check) for check in raw.get("checks", []))
        return cls(**{**raw, "checks": checks})


def error_rate_check(candidate: VariantWindow, config: AnalysisConfig) -> Check:
    """Errors of the candidate over its requests; a candidate that cannot be reached fails."""
    limit = config.max_error_rate
    if candidate.unreachable:
        return Check("error_rate", None, limit, False, f"v{candidate.version} could not be reached")
    if candidate.requests <= 0:
        return Check("error_rate", None, limit, None, "no requests reached the candidate yet")
    rate = candidate.errors / candidate.requests
    ok = rate <= limit
    detail = (
        f"error rate {rate:.2%} ({candidate.errors:.0f} of {candidate.requests:.0f}) "
        f"{'<=' if ok else '>'} {limit:.2%}"
    )
    return Check("error_rate", rate, limit, ok, detail)


def latency_check(
    candidate: VariantWindow, baseline: VariantWindow | None, config: AnalysisConfig
) -> Check:
    """p99 of the candidate over the baseline's p99 (never below the configured floor)."""
    limit = config.max_p99_ratio
    need = config.min_rows_to_compare
    if baseline is None:
        return Check("p99_ratio", None, limit, None, "p99 ratio: no baseline to compare with")
    seen, base = candidate.latency_observations, baseline.latency_observations
    if seen < need or base < need:
        return Check(
            "p99_ratio",
            None,
            limit,
            None,
            f"p99 ratio: waiting for {need} timed requests on each side "
            f"({seen:.0f} and {base:.0f})",
        )
    p99_candidate = candidate.quantile(0.99) * 1000.0
    p99_baseline = baseline.quantile(0.99) * 1000.0
    reference = max(p99_baseline, config.latency_floor_ms)
    ratio = p99_candidate / reference if reference > 0 else 0.0
    ok = ratio <= limit
    detail = (
        f"p99 {p99_candidate:.1f} ms vs {p99_baseline:.1f} ms (ratio {ratio:.2f} against "
        f"max({p99_baseline:.1f}, floor {config.latency_floor_ms:g}) ms) "
        f"{'<=' if ok else '>'} {limit:g}"
    )
    return Check("p99_ratio", ratio, limit, ok, detail)


def prediction_shift_check(
    candidate: VariantWindow, baseline: VariantWindow | None, config: AnalysisConfig
) -> Check:
    """PSI of the candidate's predicted probabilities against the baseline's."""
    limit = config.max_prediction_psi
    need = config.min_rows_to_compare
    if baseline is None:
        return Check("prediction_psi", None, limit, None, "PSI: no baseline to compare with")
    if candidate.predicted_rows < need or baseline.predicted_rows < need:
        return Check(
            "prediction_psi",
            None,
            limit,
            None,
            f"PSI: waiting for {need} predicted rows on each side "
            f"({candidate.predicted_rows:.0f} and {baseline.predicted_rows:.0f})",
        )
    psi = population_stability_index(baseline.probability_counts(), candidate.probability_counts())
    ok = psi <= limit
    return Check("prediction_psi", psi, limit, ok, f"PSI {psi:.3f} {'<=' if ok else '>'} {limit:g}")


def judge(
    step: str,
    candidate: VariantWindow,
    baseline: VariantWindow | None,
    config: AnalysisConfig,
    min_requests: int,
) -> Verdict:
    """Breach as soon as one check fails; healthy once every check passed on enough requests.

    A step is never healthy on checks it could not judge: a canary waits for enough rows for the
    PSI and the p99 (bounded by the strategy's maximum step time, after which it is aborted).
    """
    checks = (
        error_rate_check(candidate, config),
        latency_check(candidate, baseline, config),
        prediction_shift_check(candidate, baseline, config),
    )
    # Without a baseline only the error rate can be judged; with one, every check must pass.
    must_pass = checks[:1] if baseline is None else checks
    outcome: Outcome
    if any(check.passed is False for check in checks):
        outcome = "breach"
    elif candidate.requests >= min_requests and all(c.passed for c in must_pass):
        outcome = "healthy"
    else:
        outcome = "waiting"
    return Verdict(
        step=step,
        candidate=candidate.version,
        baseline=baseline.version if baseline is not None else "",
        outcome=outcome,
        checks=checks,
        candidate_requests=candidate.requests,
        baseline_requests=baseline.requests if baseline is not None else 0.0,
    )
