"""Real seldon-core microservices serving a tiny registered model, on 127.0.0.1 only.

seldon-core-microservice 1.19 hard-codes 0.0.0.0 for its REST, gRPC and metrics servers. The tests
keep everything on loopback without patching seldon:
- REST: gunicorn socket activation. We bind and listen on 127.0.0.1:<port> here and hand the
  socket to the server as fd 3 with LISTEN_FDS=1 / LISTEN_PID=<its pid> (a tiny Python
  trampoline that dup2()s and exec()s in place, so the pid is the server's); gunicorn, which
  seldon runs in its main process, then serves that socket instead of binding 0.0.0.0.
- gRPC: not started (`--grpc-workers 0`).
- metrics: cannot be switched off, so `--metrics-port` names the REST port we already hold; its
  bind of 0.0.0.0 fails (logged as "Connection in use") and the metrics server gives up.
gunicorn 26's control socket goes to a private XDG_RUNTIME_DIR instead of ~/.gunicorn.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from mlcicd.serving.server.protocol import MODEL_SERVER_CLASS, READINESS_PATH

REPO_ROOT = Path(__file__).resolve().parents[2]


MODEL_NAME = "serving-test"


MAX_ROWS = 50


READY_TIMEOUT_S = 180.0


# argv: <inherited fd> <program> <args...>: put the socket on fd 3, announce it, exec in place
ACTIVATION = (
    "import os, sys; fd = int(sys.argv[1]); os.dup2(fd, 3); fd != 3 and os.close(fd); "
    "os.environ.update(LISTEN_FDS='1', LISTEN_PID=str(os.getpid())); "
    "os.execv(sys.argv[2], sys.argv[2:])"
)


@dataclass
class RegisteredModel:
    tracking_uri: str
    model_uri: str
    name: str
    version: str


@dataclass
class SeldonServer:
    """One seldon-core-microservice process group and what the tests need to talk to it."""

    process: subprocess.Popen[bytes]
    port: int
    listener: socket.socket
    output: Path
    request_log: Path
    command: list[str]
    startup_statuses: list[int] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def output_tail(self, chars: int = 6000) -> str:
        try:
            return self.output.read_text(errors="replace")[-chars:]
        except OSError:
            return "<no output>"

    def wait_until(self, predicate: Any, timeout: float = READY_TIMEOUT_S) -> requests.Response:
        """Poll readiness until predicate(response) holds; fail with the server's output."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"seldon server exited with {self.process.returncode} before it was ready:\n"
                    + self.output_tail()
                )
            try:
                response = requests.get(self.url(READINESS_PATH), timeout=10)
            except requests.RequestException:
                time.sleep(0.2)
                continue
            self.startup_statuses.append(response.status_code)
            if predicate(response):
                return response
            time.sleep(0.2)
        pytest.fail(
            f"seldon server not ready after {timeout:.0f}s "
            f"(statuses seen: {sorted(set(self.startup_statuses))}):\n" + self.output_tail()
        )

    def stop(self) -> None:
        """SIGTERM the main process (gunicorn stops its workers), then clean the whole group."""
        try:
            if self.process.poll() is None:
                self.process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=20)
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(self.process.pid, sig)
                except ProcessLookupError:
                    break
                time.sleep(0.5)
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait(timeout=10)
        finally:
            self.listener.close()


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seldon_parameters(model: RegisteredModel, request_log: Path, **overrides: Any) -> str:
    values = {
        "model_uri": model.model_uri,
        "model_name": model.name,
        "model_version": model.version,
        "request_log": str(request_log),
        "max_rows": MAX_ROWS,
        **overrides,
    }
    return json.dumps(
        [
            {"name": k, "value": str(v), "type": "INT" if isinstance(v, int) else "STRING"}
            for k, v in values.items()
        ]
    )


def start_seldon_server(model: RegisteredModel, workdir: Path, **overrides: Any) -> SeldonServer:
    """Start `seldon-core-microservice` for the model, listening on 127.0.0.1 only."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "run").mkdir(exist_ok=True)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = int(listener.getsockname()[1])
    request_log = workdir / "requests.jsonl"
    executable = Path(sys.executable).parent / "seldon-core-microservice"
    microservice = [
        str(executable), MODEL_SERVER_CLASS,
        "--service-type", "MODEL",
        "--http-port", str(port),
        "--grpc-port", str(free_loopback_port()),
        "--grpc-workers", "0",
        "--metrics-port", str(port),
        "--workers", "1",
        "--single-threaded", "1",
        "--log-level", "INFO",
        "--parameters", seldon_parameters(model, request_log, **overrides),
    ]  # fmt: skip
    command = [sys.executable, "-c", ACTIVATION, str(listener.fileno()), *microservice]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "LISTEN_"))}
    env.update(
        MLFLOW_TRACKING_URI=model.tracking_uri,
        PYTHONPATH=str(REPO_ROOT),
        PYTHONUNBUFFERED="1",
        XDG_RUNTIME_DIR=str(workdir / "run"),
    )
    output = workdir / "server.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            pass_fds=(listener.fileno(),),
            start_new_session=True,
        )
    return SeldonServer(process, port, listener, output, request_log, command)
