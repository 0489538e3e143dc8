"""A real Prometheus server for a test, on 127.0.0.1, scraping the targets the test names.

Debian's `prometheus` package (`make prometheus`), or PROMETHEUS_PATH. A missing binary fails the
test instead of skipping it, like the browser tests. The server's data lives in the test's tmp
folder and its process group is always stopped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml

from tests.helpers.session import free_port

READY_TIMEOUT_S = 30.0


def prometheus_binary() -> Path:
    """PROMETHEUS_PATH, else `prometheus` on PATH; fails the test with how to install it."""
    configured = os.environ.get("PROMETHEUS_PATH")
    found = configured or shutil.which("prometheus") or "/usr/bin/prometheus"
    path = Path(found)
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"Prometheus is not installed at {path}: run `make prometheus` "
            "(Debian's package) or set PROMETHEUS_PATH",
            pytrace=False,
        )
    return path


@dataclass
class PrometheusServer:
    """One prometheus process and where to reach it."""

    process: subprocess.Popen[bytes]
    port: int
    output: Path
    scrape_interval: float

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output_tail(self, chars: int = 4000) -> str:
        try:
            return self.output.read_text(errors="replace")[-chars:]
        except OSError:
            return "<no output>"

    def wait_until_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"prometheus exited with {self.process.returncode}:\n" + self.output_tail()
                )
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.base_url + "/-/ready", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        pytest.fail(f"prometheus not ready after {timeout:.0f}s:\n" + self.output_tail())

    def wait_for_scrapes(self, count: int = 2, timeout: float = 15.0) -> None:
        """Until every target has been scraped up (`up == 1`) `count` times at least."""
        query = "min(count_over_time(up[1h]) * (up == 1))"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException, KeyError, IndexError):
                answer = requests.get(
                    self.base_url + "/api/v1/query", params={"query": query}, timeout=2
                ).json()
                result = answer["data"]["result"]
                if result and float(result[0]["value"][1]) >= count:
                    return
            time.sleep(0.2)
        pytest.fail(f"prometheus did not scrape its targets {count} times:\n" + self.output_tail())

    def stop(self) -> None:
        """SIGTERM the group, SIGKILL what is left; never raises for a process already gone."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
                break
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


def prometheus_config(
    targets: Sequence[str], scrape_interval: float, router_targets: Sequence[str] = ()
) -> dict[str, object]:
    """Model servers (`host:port`) scraped at /metrics, routers at /router/metrics."""
    interval = f"{round(scrape_interval * 1000)}ms"
    jobs = [("model-servers", "/metrics", targets), ("routers", "/router/metrics", router_targets)]
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "scrape_configs": [
            {
                "job_name": job,
                "scrape_interval": interval,
                "scrape_timeout": interval,
                "metrics_path": path,
                "static_configs": [{"targets": list(job_targets)}],
            }
            for job, path, job_targets in jobs
            if job_targets
        ],
    }


@contextlib.contextmanager
def running_prometheus(
    targets: Sequence[str],
    workdir: Path,
    scrape_interval: float = 1.0,
    router_targets: Sequence[str] = (),
) -> Iterator[PrometheusServer]:
    """A ready Prometheus scraping targets (e.g. "127.0.0.1:8601"); stopped on exit.

    Prometheus hands new targets to its scrapers at most every 5 s, so the first scrape comes
    about 5 s after start: wait_for_scrapes() before measuring anything.
    """
    binary = prometheus_binary()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(yaml.safe_dump(prometheus_config(targets, scrape_interval, router_targets)))
    port = free_port()
    command = [
        str(binary),
        f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    output = workdir / "prometheus.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = PrometheusServer(process, port, output, scrape_interval)
    try:
        server.wait_until_ready()
        yield server
    finally:
        server.stop()
