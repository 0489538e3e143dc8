"""Latency the local traffic router adds over calling its upstream directly.

Usage: python benchmarks/router_overhead.py [--requests 2000] [--upstream-url URL]
       [--body JSON] [--warmup 100]

Without --upstream-url a `tests.helpers.upstreams` server (no model, sub-millisecond answers) is
started, so the numbers are the router's own cost. With it (e.g. a running model server at
http://127.0.0.1:8601), the router is put in front of that server instead; pass a --body the
model accepts. Direct and routed requests are interleaved one by one (the order alternating) on
two keep-alive connections, so machine noise hits both alike; the per-pair difference is the
overhead. Every process started here runs in its own process group and is always stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from mlcicd.serving.local.processes import free_port
from mlcicd.serving.router import control
from mlcicd.serving.router.routes import RouteTable, Variant
from mlcicd.serving.server.protocol import PREDICTIONS_PATH

REPO_ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
DEFAULT_BODY = '{"data": {"names": ["age", "hours"], "ndarray": [[39, 40]]}}'
READY_TIMEOUT_S = 10.0


def start_upstream(port: int) -> subprocess.Popen[bytes]:
    """The test helper upstream, ready to answer."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.upstreams", "--port", str(port), "--version", "1"],
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the upstream exited with {process.returncode}")
        with contextlib.suppress(OSError):
            connection = http.client.HTTPConnection(HOST, port, timeout=1)
            connection.request("GET", "/health/ping")
            if connection.getresponse().status == 200:
                connection.close()
                return process
        time.sleep(0.02)
    raise RuntimeError(f"the upstream on port {port} was not ready in {READY_TIMEOUT_S} s")


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, then SIGKILL if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)


def timed_post(connection: http.client.HTTPConnection, body: bytes) -> tuple[float, int]:
    """Seconds for one prediction on a kept-alive connection, and its status."""
    started = time.perf_counter()
    connection.request("POST", PREDICTIONS_PATH, body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    return time.perf_counter() - started, response.status


def quantile(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


@dataclass(frozen=True)
class Interleaved:
    """Seconds per request on each path, and the per-pair difference (router - direct)."""

    direct: list[float]
    router: list[float]
    differences: list[float]
    statuses: dict[tuple[str, int], int]
    warmup: int


def interleave(
    upstream_port: int, router_port: int, bodies: Sequence[bytes], requests: int, warmup: int
) -> Interleaved:
    """Pairs of direct and routed requests, order alternating, the same body in both of a pair.

    Shared by benchmarks/rollout_timing.py, which puts the environment's real router in front of
    a real model server; `bodies` are cycled through, one per pair.
    """
    direct = http.client.HTTPConnection(HOST, upstream_port, timeout=30)
    routed = http.client.HTTPConnection(HOST, router_port, timeout=30)
    try:
        for index in range(warmup):
            body = bodies[index % len(bodies)]
            timed_post(direct, body)
            timed_post(routed, body)
        times: dict[str, list[float]] = {"direct": [], "router": []}
        codes: Counter[tuple[str, int]] = Counter()
        differences: list[float] = []
        for index in range(requests):
            body = bodies[index % len(bodies)]
            order = ("direct", "router") if index % 2 == 0 else ("router", "direct")
            pair: dict[str, float] = {}
            for name in order:
                seconds, status = timed_post(direct if name == "direct" else routed, body)
                pair[name] = seconds
                times[name].append(seconds)
                codes[(name, status)] += 1
            differences.append(pair["router"] - pair["direct"])
    finally:
        direct.close()
        routed.close()
    return Interleaved(times["direct"], times["router"], differences, dict(codes), warmup)


def print_table(result: Interleaved) -> None:
    """p50/p90/p99/mean of each path side by side, their difference and ratio, in ms."""
    times = {"direct": result.direct, "router": result.router}
    print(
        f"{len(result.direct)} interleaved pairs after {result.warmup} warm-up pairs; "
        f"statuses {result.statuses}"
    )
    print(f"{'':>14} {'p50 ms':>9} {'p90 ms':>9} {'p99 ms':>9} {'mean ms':>9}")
    for name, values in times.items():
        row = [quantile(values, q) * 1e3 for q in (0.5, 0.9, 0.99)] + [
            statistics.fmean(values) * 1e3
        ]
        print(f"{name:>14} " + " ".join(f"{v:9.3f}" for v in row))
    overhead = [
        (quantile(times["router"], q) - quantile(times["direct"], q)) * 1e3
        for q in (0.5, 0.9, 0.99)
    ]
    overhead.append((statistics.fmean(times["router"]) - statistics.fmean(times["direct"])) * 1e3)
    print(f"{'overhead':>14} " + " ".join(f"{v:9.3f}" for v in overhead))
    ratios = [quantile(times["router"], q) / quantile(times["direct"], q) for q in (0.5, 0.9, 0.99)]
    ratios.append(statistics.fmean(times["router"]) / statistics.fmean(times["direct"]))
    print(f"{'ratio':>14} " + " ".join(f"{v:9.2f}" for v in ratios))
    pairs = [quantile(result.differences, q) * 1e3 for q in (0.5, 0.9, 0.99)]
    print(f"{'pair diff':>14} " + " ".join(f"{v:9.3f}" for v in pairs) + "   (router - direct)")


def main() -> int:
    """Start what is needed, measure, and always stop it."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000, help="interleaved pairs (bounded)")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--upstream-url", help="an already running server on 127.0.0.1")
    parser.add_argument("--body", default=DEFAULT_BODY, help="the prediction request body")
    args = parser.parse_args()
    if not 1 <= args.requests <= 100_000:
        parser.error("--requests must be in 1..100000")
    started: list[subprocess.Popen[bytes]] = []
    work = Path(tempfile.mkdtemp(prefix="router-bench-"))
    try:
        if args.upstream_url:
            url = urlsplit(args.upstream_url)
            if url.hostname not in (HOST, "localhost") or url.port is None:
                parser.error("--upstream-url must be http://127.0.0.1:PORT (variants are loopback)")
            upstream_port = url.port
        else:
            upstream_port = free_port()
            started.append(start_upstream(upstream_port))
        table = RouteTable("benchmark", 1, (Variant("1", upstream_port, "stable", 100),))
        control.write_routes(work / "routes.json", table)
        router_port = free_port()
        started.append(control.start_router(work / "routes.json", router_port, work / "router.log"))
        print(f"upstream 127.0.0.1:{upstream_port} ({'given' if args.upstream_url else 'helper'}), "
              f"router 127.0.0.1:{router_port}, python {sys.version.split()[0]}")  # fmt: skip
        print_table(
            interleave(upstream_port, router_port, [args.body.encode()], args.requests, args.warmup)
        )
    finally:
        for process in reversed(started):
            stop_group(process)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
