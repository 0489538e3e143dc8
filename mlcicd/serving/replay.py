"""Replay golden rows against an endpoint at a steady rate: traffic for demos, tests, benchmarks.

`python run.py traffic production` uses it so that a person can watch a canary progress. It is
bounded by a duration (and a stop event), sends one row per request, and counts what came back
per HTTP status and per serving variant (the router's X-Mlcicd-Variant header).
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import requests

if TYPE_CHECKING:
    from mlcicd.config import RunConfig

VARIANT_HEADER = "X-Mlcicd-Variant"


@dataclass
class ReplayResult:
    """What the replay sent and what came back."""

    sent: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    by_variant: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        """Requests answered with a 5xx or not answered at all."""
        return sum(n for status, n in self.by_status.items() if not status.startswith(("2", "4")))

    def percentile_ms(self, q: float) -> float:
        """Client-side latency percentile (NaN when nothing was sent)."""
        if not self.latencies_ms:
            return math.nan
        return float(np.percentile(self.latencies_ms, q * 100))

    def summary(self) -> str:
        """One line for the CLI."""
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(self.by_status.items()))
        variants = ", ".join(f"v{k}: {v}" for k, v in sorted(self.by_variant.items()))
        rate = self.sent / self.seconds if self.seconds else 0.0
        return (
            f"{self.sent} requests in {self.seconds:.0f} s ({rate:.1f}/s); status {statuses}; "
            f"served by {variants or 'nobody'}; p50 {self.percentile_ms(0.5):.1f} ms, "
            f"p99 {self.percentile_ms(0.99):.1f} ms"
        )


def _value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def row_bodies(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """One Seldon `ndarray` request body per row, with the feature names."""
    names = [str(c) for c in rows.columns]
    return [
        {"data": {"names": names, "ndarray": [[_value(v) for v in record]]}}
        for record in rows.itertuples(index=False)
    ]


def replay(
    url: str,
    rows: pd.DataFrame,
    rps: float,
    duration: float,
    stop: threading.Event | None = None,
    timeout: float = 5.0,
    progress: Callable[[ReplayResult], None] | None = None,
    progress_every: float = 5.0,
) -> ReplayResult:
    """Send rows round-robin at `rps` for `duration` seconds (or until `stop` is set)."""
    if rps <= 0 or duration <= 0:
        raise ValueError(f"rps and duration must be positive, got {rps} and {duration}")
    if rows.empty:
        raise ValueError("no rows to replay")
    bodies = row_bodies(rows)
    result = ReplayResult()
    started = time.monotonic()
    next_report = started + progress_every
    with requests.Session() as session:
        while True:
            now = time.monotonic()
            if now - started >= duration or (stop is not None and stop.is_set()):
                break
            due = started + result.sent / rps
            if due > now:
                time.sleep(min(due - now, 0.5))
                continue
            body = bodies[result.sent % len(bodies)]
            sent_at = time.perf_counter()
            try:
                response = session.post(url, json=body, timeout=timeout)
                result.by_status[str(response.status_code)] += 1
                variant = response.headers.get(VARIANT_HEADER)
                if variant:
                    result.by_variant[variant] += 1
            except requests.RequestException as exc:
                result.by_status[type(exc).__name__] += 1
            result.latencies_ms.append((time.perf_counter() - sent_at) * 1000.0)
            result.sent += 1
            if progress is not None and time.monotonic() >= next_report:
                result.seconds = time.monotonic() - started
                progress(result)
                next_report += progress_every
    result.seconds = time.monotonic() - started
    return result


def golden_rows(config: RunConfig) -> pd.DataFrame:
    """The environment's golden rows as a client sends them: the model's features only."""
    from mlcicd.config import load_schema
    from mlcicd.data.loading import feature_columns, read_golden

    schema = load_schema(config.data.schema_file())
    golden = read_golden(config.data, schema)
    return golden[feature_columns(config.data, schema)].reset_index(drop=True)
