"""The traffic router as real processes: a router subprocess in front of small real upstreams.

The upstreams are `tests.helpers.upstreams` servers (they answer like the model server without
loading a model). One router and three upstreams (stable v3, canary v4, shadow v5) serve the
module; each test sets the routes it needs by writing the file and reloading, and the tests that
kill an upstream start a victim of their own. Every process is stopped in fixture teardown.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from mlcicd.serving.router import control
from mlcicd.serving.router.routes import RouteTable, Variant
from tests.helpers.router import ENVIRONMENT, HOST, PREDICT, ROWS, TIMEOUT, Router, wait_until
from tests.helpers.session import free_port
from tests.helpers.upstreams import Upstream, start_upstream


@pytest.fixture(scope="module")
def upstreams() -> Iterator[dict[str, Upstream]]:
    started: dict[str, Upstream] = {}
    try:
        for role, version, p in (("stable", "3", 0.3), ("canary", "4", 0.7), ("shadow", "5", 0.9)):
            started[role] = start_upstream(free_port(), version, "--probability", str(p))
        yield started
    finally:
        for upstream in started.values():
            upstream.stop()


@pytest.fixture(scope="module")
def router(upstreams, tmp_path_factory) -> Iterator[Router]:
    folder = tmp_path_factory.mktemp("router")
    handle = Router(None, free_port(), folder / "routes.json", folder / "shadow.jsonl")
    control.write_routes(handle.routes_file, handle.table((upstreams["stable"], "stable", 100)))
    handle.process = control.start_router(handle.routes_file, handle.port, folder / "router.log")
    try:
        yield handle
    finally:
        assert control.stop_router(handle.process.pid), "the router did not stop on SIGTERM"


@pytest.fixture
def ups(upstreams) -> Iterator[tuple[Upstream, Upstream, Upstream]]:
    """(stable, canary, shadow), their delay and failure share put back after the test."""
    yield upstreams["stable"], upstreams["canary"], upstreams["shadow"]
    for upstream in upstreams.values():
        upstream.configure(delay_ms=0, fail_share=0)


@pytest.fixture
def victim() -> Iterator[Upstream]:
    """An upstream (v9) of the test's own, to kill."""
    upstream = start_upstream(free_port(), "9", "--probability", "0.1")
    try:
        yield upstream
    finally:
        upstream.stop()


def test_a_90_10_split_over_100_requests_is_exact(router, ups):
    stable, canary, _ = ups
    router.route((stable, "stable", 90), (canary, "canary", 10))
    answered: Counter[tuple[str, str]] = Counter()
    with requests.Session() as session:
        for _ in range(100):
            response = session.post(f"{router.url}{PREDICT}?trace=1", json=ROWS, timeout=TIMEOUT)
            assert response.status_code == 200
            version, role = response.headers["X-Mlcicd-Variant"], response.headers["X-Mlcicd-Role"]
            p = 0.3 if version == "3" else 0.7
            assert response.json()["data"]["ndarray"] == [["<=50K" if p < 0.5 else ">50K", p]] * 2
            assert response.headers["Content-Type"].startswith("application/json")
            answered[(version, role)] += 1
    assert answered == {("3", "stable"): 90, ("4", "canary"): 10}
    assert canary.stats()["last_path"] == f"{PREDICT}?trace=1"


def test_health_and_metadata_always_go_to_stable(router, ups):
    stable, canary, _ = ups
    router.route((stable, "stable", 0), (canary, "canary", 100))
    assert router.post().headers["X-Mlcicd-Variant"] == "4"
    for path in ("/health/status", "/health/ping", "/api/v1.0/metadata"):
        response = requests.get(f"{router.url}{path}", timeout=TIMEOUT)
        assert response.status_code == 200 and response.headers["X-Mlcicd-Variant"] == "3", path
    metadata = requests.get(f"{router.url}/api/v1.0/metadata", timeout=TIMEOUT).json()
    assert metadata["versions"] == ["3"]


def test_reloads_under_a_concurrent_stream_are_atomic_and_drop_nothing(router, ups):
    stable, canary, _ = ups
    all_stable = ((stable, "stable", 100), (canary, "canary", 0))
    all_canary = ((stable, "stable", 0), (canary, "canary", 100))
    router.route(*all_stable)
    stop, lock = threading.Event(), threading.Lock()
    results: list[tuple[float, float, int, str]] = []  # started, ended, status, variant

    def stream() -> None:
        with requests.Session() as session:
            for _ in range(2000):  # bounded even if stop is never set
                if stop.is_set():
                    return
                started = time.monotonic()
                try:
                    response = router.post(session=session)
                    outcome = (response.status_code, response.headers.get("X-Mlcicd-Variant", ""))
                except requests.RequestException as error:
                    outcome = (-1, repr(error))
                with lock:
                    results.append((started, time.monotonic(), *outcome))

    swaps: list[tuple[float, str]] = [(0.0, "3")]  # (reload returned, the only version after)
    began: list[float] = []
    with ThreadPoolExecutor(max_workers=8) as pool:
        workers = [pool.submit(stream) for _ in range(8)]
        try:
            time.sleep(0.2)
            for routes, version in [(all_canary, "4"), (all_stable, "3")] * 3:
                began.append(time.monotonic())
                router.route(*routes)
                swaps.append((time.monotonic(), version))
                time.sleep(0.15)
        finally:
            stop.set()
            for worker in workers:
                worker.result(timeout=30)
    assert len(results) > 100
    assert [r for r in results if r[2] != 200] == []
    for (returned, version), next_began in zip(swaps, [*began, float("inf")], strict=True):
        inside = {r[3] for r in results if r[0] > returned and r[1] < next_began}
        assert inside == {version}, "a request between two reloads saw the wrong table"


def test_the_shadow_gets_a_mirror_and_never_answers_the_client(router, ups):
    stable, canary, shadow = ups
    router.route((stable, "stable", 50), (canary, "canary", 50), (shadow, "shadow", 0))
    before, lines_before = shadow.stats()["predictions"], len(router.shadow_lines())
    sent = router.metric("shadow", model_version="5", outcome="sent")
    answered = []
    for age in range(30, 36):
        response = router.post({"jsonData": {"age": [age], "hours": [40]}})
        assert response.status_code == 200 and response.headers["X-Mlcicd-Variant"] in {"3", "4"}
        assert response.json()["jsonData"]["probabilities"] != [0.9]
        answered.append(response.headers["X-Mlcicd-Variant"])
    lines = wait_until(
        lambda: len(router.shadow_lines()) >= lines_before + 6 and router.shadow_lines()
    )
    lines = lines[lines_before:]
    assert len(lines) == 6
    stats = shadow.stats()
    assert stats["predictions"] - before == 6
    mirrored = sorted(json.loads(b)["jsonData"]["age"][0] for b in stats["bodies"][-6:])
    assert mirrored == list(range(30, 36))
    assert sorted(line["primary_version"] for line in lines) == sorted(answered)
    for line in lines:
        assert line["shadow_version"] == "5" and line["shadow_probabilities"] == [0.9]
        assert line["primary_status"] == line["shadow_status"] == 200
        assert line["primary_probabilities"] == [0.3 if line["primary_version"] == "3" else 0.7]
        assert line["primary_ms"] > 0 and line["shadow_ms"] > 0 and "error" not in line
        assert line["timestamp"].endswith("+00:00")
    assert router.metric("shadow", model_version="5", outcome="sent") - sent == 6


def test_mirrors_beyond_64_in_flight_are_dropped_and_counted(router, ups):
    stable, _, shadow = ups
    router.route((stable, "stable", 100), (shadow, "shadow", 0))
    sent = router.metric("shadow", model_version="5", outcome="sent")
    dropped = router.metric("shadow", model_version="5", outcome="dropped")
    lines_before = len(router.shadow_lines())
    shadow.configure(delay_ms=2500)
    started = time.monotonic()
    with requests.Session() as session:
        assert all(router.post(session=session).status_code == 200 for _ in range(80))
    assert time.monotonic() - started < 2.4  # never waited for the shadow; no mirror ended yet
    assert router.metric("shadow", model_version="5", outcome="sent") - sent == 64
    assert router.metric("shadow", model_version="5", outcome="dropped") - dropped == 16
    # Let the 64 finish before the next test reads the log.
    assert wait_until(lambda: len(router.shadow_lines()) - lines_before == 64)


def test_a_failing_shadow_is_logged_with_its_error(router, ups, victim):
    router.route((ups[0], "stable", 100), (victim, "shadow", 0))
    victim.kill()
    lines_before = len(router.shadow_lines())
    assert router.post().status_code == 200
    assert wait_until(lambda: len(router.shadow_lines()) > lines_before)
    line = router.shadow_lines()[lines_before]
    assert line["shadow_status"] is None and line["shadow_probabilities"] is None
    assert "cannot connect" in line["error"]
    assert line["primary_probabilities"] == [0.3, 0.3]
    assert router.metric("shadow", model_version="9", outcome="failed") >= 1


def test_killing_the_canary_mid_stream_falls_back_to_stable(router, ups, victim):
    router.route((ups[0], "stable", 50), (victim, "canary", 50))
    outcomes: list[tuple[int, str, float]] = []
    lock = threading.Lock()

    def stream(count: int) -> None:
        with requests.Session() as session:
            for _ in range(count):
                started = time.monotonic()
                response = router.post(session=session)
                version = response.headers.get("X-Mlcicd-Variant", "")
                with lock:
                    outcomes.append((response.status_code, version, time.monotonic() - started))

    with ThreadPoolExecutor(max_workers=4) as pool:
        workers = [pool.submit(stream, 60) for _ in range(4)]
        wait_until(lambda: len(outcomes) >= 40, timeout=10)
        victim.kill()
        for worker in workers:
            worker.result(timeout=30)
    assert [o for o in outcomes if o[0] != 200] == []
    assert max(o[2] for o in outcomes) < 2.0
    assert {o[1] for o in outcomes[:40]} == {"3", "9"}
    assert {o[1] for o in outcomes[-40:]} == {"3"}
    assert router.metric("failures", model_version="9", reason="connection") >= 1
    assert router.metric("requests", model_version="9", code="error") >= 1


def test_killing_the_stable_answers_a_clear_503_quickly(router, ups, victim):
    router.route((victim, "stable", 100), (ups[1], "canary", 0))
    assert router.post().headers["X-Mlcicd-Variant"] == "9"
    victim.kill()
    started = time.monotonic()
    response = router.post()
    assert time.monotonic() - started < 1.5
    assert response.status_code == 503 and response.headers["X-Mlcicd-Variant"] == "9"
    assert response.headers["Content-Type"].startswith("application/json")
    status = response.json()["status"]
    assert status["code"] == 503 and status["reason"] == "UPSTREAM_UNAVAILABLE"
    assert status["status"] == "FAILURE"
    assert f"stable variant 9 at 127.0.0.1:{victim.port}: cannot connect" in status["info"]
    assert requests.get(f"{router.url}/health/status", timeout=TIMEOUT).status_code == 503


def test_a_slow_canary_is_retried_on_stable_and_a_slow_stable_is_a_503(router, ups):
    stable, canary, _ = ups
    router.route((stable, "stable", 0), (canary, "canary", 100), timeout=0.4)
    canary.configure(delay_ms=1500)
    started = time.monotonic()
    response = router.post()
    assert 0.35 < time.monotonic() - started < 1.4
    assert response.status_code == 200 and response.headers["X-Mlcicd-Variant"] == "3"
    assert router.metric("failures", model_version="4", reason="timeout") >= 1

    router.route((stable, "stable", 100), (canary, "canary", 0), timeout=0.4)
    stable.configure(delay_ms=1500)
    started = time.monotonic()
    response = router.post()
    assert time.monotonic() - started < 1.0
    assert response.status_code == 503
    assert "stable variant 3" in response.json()["status"]["info"]
    assert "no answer within 0.4 s" in response.json()["status"]["info"]


def test_a_5xx_is_the_models_answer_and_is_not_retried(router, ups):
    stable, canary, _ = ups
    router.route((stable, "stable", 0), (canary, "canary", 100))
    canary.configure(fail_share=1.0)
    before = router.metric("requests", model_version="4", code="500")
    stable_before = stable.stats()["predictions"]
    response = router.post()
    assert response.status_code == 500 and response.headers["X-Mlcicd-Variant"] == "4"
    assert response.json()["status"]["reason"] == "MICROSERVICE_INTERNAL_ERROR"
    assert stable.stats()["predictions"] == stable_before
    assert router.metric("requests", model_version="4", code="500") == before + 1


def test_an_invalid_reload_is_refused_and_the_old_table_stays(router, ups):
    generation = router.route((ups[0], "stable", 100))
    good = router.routes_file.read_text()
    raw = json.loads(good)
    bad = [
        ({**raw, "variants": [{**raw["variants"][0], "weight": 90}]}, "must sum to 100, got 90"),
        ({**raw, "environment": "production"}, "for environment 'production'"),
        ({**raw, "generation": generation - 1}, "older than the current"),
        ("{broken", "not valid JSON"),
    ]
    try:
        for content, message in bad:
            router.routes_file.write_text(
                content if isinstance(content, str) else json.dumps(content)
            )
            with pytest.raises(control.RouterError, match=message):
                control.reload(router.port)
    finally:
        router.routes_file.write_text(good)
    state = router.state()
    assert state["table"]["generation"] == generation and state["pid"] == router.process.pid
    assert router.post().status_code == 200
    assert control.reload(router.port) == generation  # the same file again is fine


def test_an_oversize_body_is_refused_with_413_before_forwarding(router, ups):
    stable = ups[0]
    router.route((stable, "stable", 100), max_body=1024)
    before = stable.stats()["predictions"]
    response = router.post({"jsonData": {"blob": "x" * 2000}})
    assert response.status_code == 413
    assert response.json()["status"]["reason"] == "REQUEST_TOO_LARGE"
    assert "1024 bytes" in response.json()["status"]["info"]
    chunks = iter([b"{" + b" " * 800, b" " * 800 + b"}"])  # no Content-Length: counted as read
    assert requests.post(f"{router.url}{PREDICT}", data=chunks, timeout=TIMEOUT).status_code == 413
    assert router.post({"jsonData": {"blob": "x" * 900}}).status_code == 200
    assert stable.stats()["predictions"] == before + 1


def test_metrics_and_state_count_per_version(router, ups):
    router.route((ups[0], "stable", 80), (ups[1], "canary", 20))
    before = {v: router.metric("requests", model_version=v, code="200") for v in "34"}
    durations = {v: router.metric("durations", model_version=v) for v in "34"}
    state_before = router.state()
    assert all(router.post().status_code == 200 for _ in range(50))
    for version, count in (("3", 40), ("4", 10)):
        labels = {"model_version": version, "environment": ENVIRONMENT}
        assert router.metric("requests", code="200", **labels) - before[version] == count
        assert router.metric("durations", model_version=version) - durations[version] == count
    text = requests.get(f"{router.url}/router/metrics", timeout=TIMEOUT).text
    bucket = '{environment="staging",le="0.00025",model_version="3"}'
    assert f"mlcicd_router_request_duration_seconds_bucket{bucket}" in text
    state = router.state()
    assert state["shadow"]["in_flight"] == 0 and state["shadow"]["log_lines_dropped"] == 0
    assert state["stats"]["4"]["forwarded"] - state_before["stats"]["4"]["forwarded"] == 10
    assert state["stats"]["3"]["in_flight"] == 0
    assert requests.get(f"{router.url}/router/nothing", timeout=TIMEOUT).status_code == 404


def test_wait_drained_follows_in_flight_requests(router, ups):
    stable, canary, _ = ups
    router.route((stable, "stable", 0), (canary, "canary", 100))
    canary.configure(delay_ms=400)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(router.post)
        assert wait_until(lambda: router.state()["stats"]["4"]["in_flight"] == 1, timeout=2)
        assert not control.wait_drained(router.port, "4", timeout=0.05)
        router.route((stable, "stable", 100))  # the canary leaves the table while in flight
        assert router.state()["stats"]["4"]["in_flight"] == 1
        assert control.wait_drained(router.port, "4", timeout=3)
        response = pending.result(timeout=5)
    assert response.status_code == 200 and response.headers["X-Mlcicd-Variant"] == "4"
    assert control.router_state(free_port()) is None


def test_sigterm_lets_in_flight_requests_finish_and_exits_0(upstreams, tmp_path, victim):
    routes, port = tmp_path / "routes.json", free_port()
    variants = (
        Variant("9", victim.port, "stable", 100),
        Variant("5", upstreams["shadow"].port, "shadow", 0),
    )
    table = RouteTable(ENVIRONMENT, 1, variants, shadow_log=str(tmp_path / "shadow.jsonl"))
    control.write_routes(routes, table)
    process = control.start_router(routes, port, tmp_path / "router.log")
    try:
        victim.configure(delay_ms=500)
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(
                lambda: requests.post(f"http://{HOST}:{port}{PREDICT}", json=ROWS, timeout=TIMEOUT)
            )
            time.sleep(0.2)
            process.send_signal(signal.SIGTERM)
            response = pending.result(timeout=10)
        assert response.status_code == 200 and response.headers["X-Mlcicd-Variant"] == "9"
        assert process.wait(timeout=10) == 0
        assert len((tmp_path / "shadow.jsonl").read_text().splitlines()) == 1  # flushed on exit
    finally:
        control.stop_router(process.pid, timeout=5)


def test_start_router_reports_a_bad_routes_file_a_foreign_host_and_its_own_port(tmp_path):
    routes, port = tmp_path / "routes.json", free_port()
    routes.write_text(json.dumps({"environment": ENVIRONMENT, "generation": 1, "variants": []}))
    with pytest.raises(control.RouterError, match="(?s)exited with status 2.*at least the stable"):
        control.start_router(routes, free_port(), tmp_path / "bad.log")
    control.write_routes(routes, RouteTable(ENVIRONMENT, 1, (Variant("1", port, "stable", 100),)))
    with pytest.raises(control.RouterError, match="binds loopback only"):
        control.start_router(routes, free_port(), tmp_path / "host.log", host="0.0.0.0")  # noqa: S104
    with pytest.raises(control.RouterError, match="the router's own port"):
        control.start_router(routes, port, tmp_path / "self.log")
    with pytest.raises(control.RouterError, match="cannot be reached"):
        control.reload(free_port())
