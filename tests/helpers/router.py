"""The router test harness: a running router, its routes, metrics and shadow log, by name.

Used by tests/serving/test_router.py; kept apart so the tests read as tests.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

from mlcicd.serving.router import control
from mlcicd.serving.router.routes import RouteTable, Variant
from tests.helpers.upstreams import Upstream

HOST = "127.0.0.1"
ENVIRONMENT = "staging"
PREDICT = "/api/v1.0/predictions"
ROWS = {"data": {"names": ["age", "hours"], "ndarray": [[39, 40], [50, 13]]}}
TIMEOUT = 5.0
METRICS = {
    "requests": "mlcicd_router_requests_total",
    "failures": "mlcicd_router_upstream_failures_total",
    "durations": "mlcicd_router_request_duration_seconds_count",
    "shadow": "mlcicd_router_shadow_requests_total",
}
Route = tuple[Upstream, str, int]  # upstream, role, weight


@dataclass
class Router:
    """The module's router process and what the tests do with it."""

    process: Any
    port: int
    routes_file: Path
    shadow_log: Path
    generation: int = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def table(self, *routes: Route, timeout: float = 2.0, max_body: int = 1 << 20) -> RouteTable:
        self.generation += 1
        variants = tuple(Variant(u.version, u.port, role, weight) for u, role, weight in routes)
        return RouteTable(
            ENVIRONMENT, self.generation, variants, timeout, max_body, str(self.shadow_log)
        )

    def route(self, *routes: Route, **options: Any) -> int:
        """Write a new table and reload; the generation the router now serves."""
        control.write_routes(self.routes_file, self.table(*routes, **options))
        generation = control.reload(self.port)
        assert generation == self.generation
        return generation

    def post(self, body: Any = ROWS, session: Any = requests) -> requests.Response:
        return session.post(f"{self.url}{PREDICT}", json=body, timeout=TIMEOUT)

    def metric(self, which: str, **labels: str) -> float:
        """The sum of the samples of METRICS[which] whose labels include `labels`."""
        text = requests.get(f"{self.url}/router/metrics", timeout=TIMEOUT).text
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == METRICS[which] and labels.items() <= sample.labels.items()
        )

    def shadow_lines(self) -> list[dict[str, Any]]:
        text = self.shadow_log.read_text() if self.shadow_log.exists() else ""
        return [json.loads(line) for line in text.splitlines()]

    def state(self) -> dict[str, Any]:
        state = control.router_state(self.port)
        assert state is not None
        return state


def wait_until(condition: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll until condition() is truthy (returned) or the timeout passes (its last value)."""
    deadline = time.monotonic() + timeout
    while not (value := condition()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return value
