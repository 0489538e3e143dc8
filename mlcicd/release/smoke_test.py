"""Smoke test of a served model: it must answer exactly like the registered version offline.

Runs against a live endpoint: canonical rows must come back with the same labels and the same
probabilities (to a tolerance of 1e-6) as the packaged model computes offline, in the expected
response schema, within the latency SLA, and malformed requests must get a 4xx, not a 5xx.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import requests

from inference.packaged_model import PackagedClassifier
from mlcicd.errors import GateRejected


class SmokeTestFailed(GateRejected):
    """The served model did not behave like the registered version."""

    gate = "staging_smoke_test"


@dataclass
class SmokeResult:
    """What the smoke test saw; stored with the run and shown to the approver."""

    url: str
    requests: int
    max_probability_difference: float
    label_mismatches: int
    p95_ms: float
    edge_cases: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """No failure recorded."""
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {**asdict(self), "passed": self.passed}


def _json_value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def row_payload(frame: pd.DataFrame, names: list[str]) -> dict[str, Any]:
    """The Seldon `ndarray` form with feature names."""
    rows = [[_json_value(v) for v in record] for record in frame[names].itertuples(index=False)]
    return {"data": {"names": names, "ndarray": rows}}


def _edge_cases(names: list[str], example: list[Any], max_rows: int) -> dict[str, Any]:
    wrong_type = list(example)
    numeric = next((i for i, v in enumerate(example) if isinstance(v, int | float)), 0)
    wrong_type[numeric] = "not-a-number"
    return {
        "missing feature": {"data": {"names": names[1:], "ndarray": [example[1:]]}},
        "wrong type": {"data": {"names": names, "ndarray": [wrong_type]}},
        "empty payload": {"data": {"names": names, "ndarray": []}},
        "oversized payload": {"data": {"names": names, "ndarray": [example] * (max_rows + 1)}},
    }


def run_smoke_test(
    url: str,
    model: PackagedClassifier,
    rows: pd.DataFrame,
    expected_version: str,
    p95_sla_ms: float,
    tolerance: float,
    max_rows: int,
    timeout: float = 30.0,
) -> SmokeResult:
    """Send one request per canonical row plus the edge cases; record every discrepancy."""
    names = list(model.feature_names)
    offline = model.predict(None, rows)
    latencies, diffs, mismatches, failures = [], [], 0, []
    for i in range(len(rows)):
        payload = row_payload(rows.iloc[[i]], names)
        started = time.perf_counter()
        try:
            response = requests.post(url, json=payload, timeout=timeout)
        except requests.RequestException as exc:
            failures.append(f"row {i}: request failed: {exc}")
            continue
        latencies.append((time.perf_counter() - started) * 1000.0)
        if response.status_code != 200:
            failures.append(f"row {i}: HTTP {response.status_code}: {response.text[:200]}")
            continue
        body = response.json()
        data = body.get("data", {})
        if data.get("names") != ["prediction", "probability"] or len(data.get("ndarray", [])) != 1:
            failures.append(f"row {i}: unexpected response schema: {str(body)[:200]}")
            continue
        tags = body.get("meta", {}).get("tags", {})
        if str(tags.get("model_version")) != str(expected_version):
            failures.append(
                f"row {i}: served version {tags.get('model_version')!r}, "
                f"expected {expected_version!r}"
            )
        label, probability = data["ndarray"][0]
        diffs.append(abs(float(probability) - float(offline["probability"].iloc[i])))
        if label != offline["prediction"].iloc[i]:
            mismatches += 1
    max_diff = max(diffs) if diffs else math.inf
    if diffs and max_diff > tolerance:
        failures.append(
            f"probabilities differ from offline by up to {max_diff:.3g} (> {tolerance})"
        )
    if mismatches:
        failures.append(f"{mismatches} label(s) differ from the offline predictions")
    p95 = float(np.percentile(latencies, 95)) if latencies else math.inf
    if p95 > p95_sla_ms:
        failures.append(f"p95 latency {p95:.1f} ms is above the {p95_sla_ms:.0f} ms SLA")
    edge_status: dict[str, int] = {}
    example = row_payload(rows.iloc[[0]], names)["data"]["ndarray"][0]
    for case, payload in _edge_cases(names, example, max_rows).items():
        try:
            status = requests.post(url, json=payload, timeout=timeout).status_code
        except requests.RequestException as exc:
            failures.append(f"edge case '{case}': request failed: {exc}")
            continue
        edge_status[case] = status
        if not 400 <= status < 500:
            failures.append(f"edge case '{case}' answered HTTP {status}, expected a 4xx")
    return SmokeResult(
        url=url,
        requests=len(rows),
        max_probability_difference=max_diff,
        label_mismatches=mismatches,
        p95_ms=p95,
        edge_cases=edge_status,
        failures=failures,
    )


def say_nothing(_message: str) -> None:
    """The default progress sink of every release function: silent."""


def smoke_verifier(
    environment: str,
    model: PackagedClassifier,
    rows: pd.DataFrame,
    name: str,
    version: str,
    p95_sla_ms: float,
    tolerance: float,
    max_rows: int,
    results: list[SmokeResult],
    say: Callable[[str], None] = say_nothing,
) -> Callable[[str], None]:
    """The `verify` a serving backend calls on a candidate endpoint: raises to reject it.

    Every result is appended to `results`, so a failed deployment still leaves its evidence.
    """

    def verify(url: str) -> None:
        say(f"smoke-testing version {version} at {url}")
        result = run_smoke_test(url, model, rows, version, p95_sla_ms, tolerance, max_rows)
        results.append(result)
        if not result.passed:
            details = "\n".join(f"  - {f}" for f in result.failures)
            raise SmokeTestFailed(
                f"{environment} smoke test of {name} version {version} failed at {url}:\n{details}",
                gate=f"{environment}_smoke_test",
            )
        say(f"smoke test passed (p95 {result.p95_ms:.1f} ms)")

    return verify
