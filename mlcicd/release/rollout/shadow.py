"""The shadow report: what the candidate would have answered, next to what the stable version did.

Built from the analysis verdict (error rate, p99 ratio and PSI on the same mirrored requests) and
from the pairs of answers the router logged, so a reviewer sees how far the two versions'
probabilities lie apart on real traffic before any of it is served by the candidate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from mlcicd.release.audit import now_utc
from mlcicd.release.rollout.analysis import Verdict
from mlcicd.serving.contract import TrafficControl

DIFFERENCE_OF_NOTE = 0.1  # a probability moved by more than this is counted as "changed"


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def compare_pairs(pairs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Agreement of the mirrored answers: probability differences, failures, latencies."""
    differences: list[float] = []
    primary_ms: list[float] = []
    shadow_ms: list[float] = []
    failures = 0
    for pair in pairs:
        if pair.get("error") or pair.get("shadow_status") != 200:
            failures += 1
        with_numbers = [
            (float(pair[key]) if isinstance(pair.get(key), int | float) else None)
            for key in ("primary_ms", "shadow_ms")
        ]
        if with_numbers[0] is not None:
            primary_ms.append(with_numbers[0])
        if with_numbers[1] is not None:
            shadow_ms.append(with_numbers[1])
        first, second = pair.get("primary_probabilities"), pair.get("shadow_probabilities")
        if isinstance(first, list) and isinstance(second, list) and len(first) == len(second):
            differences += [abs(float(a) - float(b)) for a, b in zip(first, second, strict=True)]
    rows = len(differences)
    return {
        "mirrored_requests": len(pairs),
        "shadow_failures": failures,
        "compared_rows": rows,
        "mean_abs_probability_difference": sum(differences) / rows if rows else None,
        "max_abs_probability_difference": max(differences) if rows else None,
        "share_changed_by_more_than_0_1": (
            sum(d > DIFFERENCE_OF_NOTE for d in differences) / rows if rows else None
        ),
        "primary_p50_ms": _percentile(primary_ms, 0.5),
        "primary_p99_ms": _percentile(primary_ms, 0.99),
        "shadow_p50_ms": _percentile(shadow_ms, 0.5),
        "shadow_p99_ms": _percentile(shadow_ms, 0.99),
    }


def shadow_report(
    traffic: TrafficControl,
    environment: str,
    stable: str,
    candidate: str,
    started_at: str,
    verdict: Verdict,
) -> dict[str, Any]:
    """The report the review page shows and the version's MLflow run keeps."""
    pairs = traffic.shadow_pairs(environment, started_at)
    return {
        "environment": environment,
        "stable_version": stable,
        "shadow_version": candidate,
        "started_at": started_at,
        "finished_at": now_utc(),
        "outcome": verdict.outcome,
        "verdict": verdict.to_dict(),
        "comparison": compare_pairs(pairs),
    }
