"""Both metrics sources over one real model server: scraped directly, and through a real Prometheus.

The router's endpoint is a static text page here (the router is built elsewhere); Prometheus
itself is the real Debian binary, so every PromQL query below is evaluated by the real engine.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from mlcicd.serving.metrics import (
    DirectMetricsSource,
    Mark,
    MetricsError,
    PrometheusMetricsSource,
    VariantWindow,
    histogram_quantile,
)
from mlcicd.serving.metrics.window import normalize_buckets
from mlcicd.serving.server.protocol import PREDICTIONS_PATH
from tests.helpers.prometheus import PrometheusServer, running_prometheus
from tests.helpers.serving import MODEL_NAME
from tests.helpers.session import free_port

FAILURES = "mlcicd_router_upstream_failures_total"


class FakeRouterMetrics(ThreadingHTTPServer):
    """Serves `text` at /router/metrics, as the local router will."""

    text = ""

    def set_failures(self, counts: dict[tuple[str, str, str], float]) -> None:
        """{(environment, version, reason): count}."""
        lines = [f"# TYPE {FAILURES.removesuffix('_total')} counter"]
        for (environment, version, reason), value in sorted(counts.items()):
            labels = f'environment="{environment}",model_version="{version}",reason="{reason}"'
            lines.append(f"{FAILURES}{{{labels}}} {value}")
        self.text = "\n".join(lines) + "\n"


class _RouterHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        assert isinstance(self.server, FakeRouterMetrics)
        body = self.server.text.encode() if self.path == "/router/metrics" else b""
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def router() -> Iterator[FakeRouterMetrics]:
    server = FakeRouterMetrics(("127.0.0.1", 0), _RouterHandler)
    server.set_failures({("production", "1", "timeout"): 0, ("production", "1", "connection"): 0})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def prometheus(seldon_server, router, tmp_path_factory) -> Iterator[PrometheusServer]:
    """A real Prometheus scraping the model server and the router every second."""
    with running_prometheus(
        [f"127.0.0.1:{seldon_server.port}"],
        tmp_path_factory.mktemp("prometheus"),
        scrape_interval=1.0,
        router_targets=[f"127.0.0.1:{router.server_address[1]}"],
    ) as server:
        server.wait_for_scrapes(2)
        yield server


def body_of(frame) -> dict[str, Any]:
    return {
        "data": {
            "names": list(frame.columns),
            "ndarray": json.loads(frame.to_json(orient="values")),
        }
    }


def predict(server, body: dict[str, Any]) -> requests.Response:
    return requests.post(server.url(PREDICTIONS_PATH), json=body, timeout=30)


def direct_source(server, version: str, **kwargs: Any) -> DirectMetricsSource:
    return DirectMetricsSource(lambda: {version: server.port}, model_name=MODEL_NAME, **kwargs)


def shape(window: VariantWindow) -> list[float]:
    counts = window.probability_counts()
    return [c / sum(counts) for c in counts]


# -- direct ---------------------------------------------------------------------------------------


def test_a_direct_window_counts_requests_rows_and_latency(
    seldon_server, registered_model, golden_rows
):
    version = registered_model.version
    source = direct_source(seldon_server, version)
    since = source.mark()
    for _ in range(12):
        assert predict(seldon_server, body_of(golden_rows.head(4))).status_code == 200
    assert predict(seldon_server, {"jsonData": []}).status_code == 400
    window = source.window(since, [version])[version]
    assert (window.requests, window.errors, window.error_rate) == (13, 0, 0.0)
    assert window.predicted_rows == 48 and window.latency_observations == 13
    assert not window.unreachable and window.seconds > 0
    p50, p99 = window.quantile(0.5), window.quantile(0.99)
    assert 0 < p50 <= p99 < 2.0, (p50, p99)
    assert sum(window.probability_counts()) == 48


def test_an_unreachable_variant_is_reported_not_raised(seldon_server, registered_model):
    dead = free_port()
    targets = {registered_model.version: seldon_server.port, "2": dead}
    source = DirectMetricsSource(lambda: targets, model_name=MODEL_NAME, timeout=1.0)
    since = source.mark()
    windows = source.window(since, [registered_model.version, "2", "3"])
    assert windows["2"].unreachable and f"127.0.0.1:{dead}/metrics" in windows["2"].detail
    assert (windows["2"].requests, windows["2"].errors) == (0, 0)
    assert not windows[registered_model.version].unreachable
    assert windows["3"] == VariantWindow("3", seconds=windows["3"].seconds, detail="not serving")


def test_the_routers_upstream_failures_are_requests_and_errors(
    seldon_server, registered_model, router, golden_rows
):
    version = registered_model.version
    router.set_failures({("production", version, "timeout"): 2, ("staging", version, "timeout"): 5})
    source = direct_source(
        seldon_server, version, router_port=router.server_address[1], environment="production"
    )
    since = source.mark()
    for _ in range(2):
        assert predict(seldon_server, body_of(golden_rows.head(2))).status_code == 200
    router.set_failures(
        {
            ("production", version, "timeout"): 5,
            ("production", version, "connection"): 1,
            ("staging", version, "timeout"): 9,
        }
    )
    window = source.window(since, [version])[version]
    assert (window.requests, window.errors) == (2 + 4, 4)
    assert window.error_rate == pytest.approx(4 / 6)
    router.set_failures({("production", version, "timeout"): 1})  # the router restarted
    restarted = source.window(source.mark(), [version])[version]
    assert (restarted.requests, restarted.errors) == (0, 0)
    since = source.mark()
    router.set_failures({("production", version, "timeout"): 0})  # and again: 0 is the increase
    assert source.window(since, [version])[version].errors == 0
    router.set_failures(
        {("production", version, "timeout"): 0, ("production", version, "connection"): 0}
    )


# -- PromQL against a real Prometheus ----------------------------------------------------------


def test_promql_window_agrees_with_the_direct_one(
    prometheus, seldon_server, registered_model, router, golden_rows
):
    """Steady traffic over ~6 s, the way increase() expects it, seen by both sources."""
    version = registered_model.version
    body = body_of(golden_rows)
    rows = len(golden_rows)
    direct = direct_source(
        seldon_server, version, router_port=router.server_address[1], environment="production"
    )
    promql = PrometheusMetricsSource(
        prometheus.base_url, MODEL_NAME, scrape_interval=1.0, environment="production"
    )
    direct_since, promql_since = direct.mark(), promql.mark()
    started, count, failures = time.monotonic(), 72, 0
    for i in range(count):
        assert predict(seldon_server, body).status_code == 200
        if i % 3 == 2:
            failures += 1
            router.set_failures({("production", version, "timeout"): failures})
        time.sleep(max(0.0, started + (i + 1) * 6.0 / count - time.monotonic()))
    exact = direct.window(direct_since, [version])[version]
    seen = promql.window(promql_since, [version])[version]
    assert exact.requests == count + failures and exact.errors == failures
    assert exact.predicted_rows == count * rows
    assert seen.requests == pytest.approx(exact.requests, rel=0.10), seen
    assert seen.errors == pytest.approx(exact.errors, rel=0.15, abs=2), seen
    assert seen.predicted_rows == pytest.approx(exact.predicted_rows, rel=0.10)
    assert seen.latency_observations == pytest.approx(count, rel=0.10)
    assert seen.seconds == pytest.approx(exact.seconds, abs=1.0)
    assert [b for b, _ in seen.probability_buckets] == [b for b, _ in exact.probability_buckets]
    assert max(abs(a - b) for a, b in zip(shape(seen), shape(exact), strict=True)) < 0.02
    assert 0 < seen.quantile(0.99) < 2.0
    assert not seen.unreachable


def test_quantiles_match_prometheus_histogram_quantile(prometheus, registered_model):
    at = f"{time.time():.3f}"
    matchers = f'{{model_name="{MODEL_NAME}",model_version="{registered_model.version}"}}'
    buckets_query = f"sum by (le) (mlcicd_model_request_duration_seconds_bucket{matchers})"

    def query(promql: str) -> list[dict[str, Any]]:
        answer = requests.get(
            prometheus.base_url + "/api/v1/query", params={"query": promql, "time": at}, timeout=5
        ).json()
        assert answer["status"] == "success", answer
        return answer["data"]["result"]

    buckets = normalize_buckets(
        [(float(item["metric"]["le"]), float(item["value"][1])) for item in query(buckets_query)]
    )
    assert buckets and buckets[-1][1] > 0
    # q = 0 is left out: Prometheus answers NaN or the lowest bound depending on the data
    for q in (0.25, 0.5, 0.9, 0.99, 1.0):
        (engine,) = query(f"histogram_quantile({q}, {buckets_query})")
        expected = float(engine["value"][1])
        ours = histogram_quantile(q, buckets)
        assert (math.isnan(ours) and math.isnan(expected)) or ours == pytest.approx(expected), q


def test_label_values_are_escaped_and_selectors_narrow(prometheus, registered_model):
    version = registered_model.version
    hostile = PrometheusMetricsSource(
        prometheus.base_url, 'x"} or up{a="', selectors={"job": 'a"b\\c\n'}, scrape_interval=1.0
    )
    since = Mark("prometheus", hostile.mark().at - 60)
    window = hostile.window(since, [version])[version]
    assert window.requests == 0 and "no series" in window.detail
    narrowed = PrometheusMetricsSource(
        prometheus.base_url, MODEL_NAME, selectors={"job": "model-servers"}, scrape_interval=1.0
    )
    assert narrowed.window(since, [version])[version].requests > 0
    with pytest.raises(ValueError, match="label name"):
        PrometheusMetricsSource(prometheus.base_url, MODEL_NAME, selectors={"a-b": "x"})


def test_a_short_window_waits_for_two_scrapes(prometheus, registered_model):
    slept: list[float] = []
    source = PrometheusMetricsSource(
        prometheus.base_url, MODEL_NAME, scrape_interval=1.0, sleep=slept.append
    )
    window = source.window(source.mark(), [registered_model.version])
    assert len(slept) == 1 and 2.0 < slept[0] <= 2.5
    assert window[registered_model.version].seconds == pytest.approx(2.5)


def test_prometheus_unreachable_or_not_prometheus_is_a_clear_metrics_error(seldon_server):
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(MetricsError, match="cannot be reached") as caught:
        PrometheusMetricsSource(url, MODEL_NAME, timeout=1.0).mark()
    assert f"{url}/api/v1/query" in str(caught.value)
    with pytest.raises(MetricsError, match=r"refused 'time\(\)' \(HTTP 404") as caught:
        PrometheusMetricsSource(seldon_server.base_url, MODEL_NAME, timeout=5.0).mark()
    assert seldon_server.base_url in str(caught.value)
    with pytest.raises(ValueError, match="direct"):
        PrometheusMetricsSource(url, MODEL_NAME).window(Mark("direct", 0.0), ["1"])
