"""A tiny stand-in for a model server, to test and benchmark the router without ML models.

Run as a subprocess: `python -m tests.helpers.upstreams --port N --version 3 [--fail-share 0.5]
[--delay-ms 200] [--probability 0.3]`. It binds 127.0.0.1 only, speaks HTTP/1.1 keep-alive and
answers like the seldon model server: predictions in the request's form (`data.ndarray` rows ->
`data` with names/ndarray, otherwise `jsonData` with predictions/probabilities), seldon-shaped
JSON errors, /health/status, /health/ping and /api/v1.0/metadata. Its behaviour can be changed
while it runs (POST /upstream/config), and GET /upstream/stats says what it received, so one
module-scoped process serves many tests.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
PREDICTIONS_PATH = "/api/v1.0/predictions"
MAX_KEPT_BODIES = 50


class Behaviour:
    """What the server does, changeable at run time; shared by the handler threads."""

    def __init__(
        self, version: str, fail_share: float, delay_ms: float, probability: float, close: bool
    ) -> None:
        self.version, self.close = version, close
        self.fail_share = fail_share
        self.delay_ms = delay_ms
        self.probability = probability
        self.lock = threading.Lock()
        self.predictions = 0
        self.failed = 0
        self.bodies: list[str] = []
        self.last_path: str | None = None

    def count_prediction(self, body: bytes) -> bool:
        """Count one prediction; True when it must fail (exactly fail_share of them, spread)."""
        with self.lock:
            self.predictions += 1
            self.bodies = (self.bodies + [body.decode(errors="replace")])[-MAX_KEPT_BODIES:]
            n = self.predictions
            fail = math.floor(n * self.fail_share) > math.floor((n - 1) * self.fail_share)
            self.failed += int(fail)
            return fail


def _rows(payload: Any) -> tuple[str, int]:
    """The request's form and row count, as loosely as a stand-in may read them."""
    if isinstance(payload, dict) and isinstance(payload.get("data"), dict):
        rows = payload["data"].get("ndarray")
        return "data", len(rows) if isinstance(rows, list) and rows else 1
    json_data = payload.get("jsonData") if isinstance(payload, dict) else None
    if isinstance(json_data, list) and json_data:
        return "jsonData", len(json_data)
    if isinstance(json_data, dict) and json_data:
        first = next(iter(json_data.values()))
        return "jsonData", len(first) if isinstance(first, list) and first else 1
    return "jsonData", 1


def _error(status: int, reason: str, info: str) -> dict[str, Any]:
    return {"status": {"code": status, "info": info, "reason": reason, "status": "FAILURE"}}


def make_handler(behaviour: Behaviour) -> type[BaseHTTPRequestHandler]:
    """A handler class bound to one Behaviour."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like the router's pool expects
        disable_nagle_algorithm = True  # else headers and body wait on the peer's delayed ACK

        def log_message(self, format: str, *args: Any) -> None:
            return  # silent: the tests read the router's logs, not these

        def _send(self, status: int, payload: Any) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if behaviour.close:  # like gunicorn's sync worker: one request per connection
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/health/status":
                self._send(200, {"status": "ready", "version": behaviour.version})
            elif path == "/health/ping":
                self._send(200, "pong")
            elif path == "/api/v1.0/metadata":
                self._send(200, {"name": "upstream-helper", "versions": [behaviour.version]})
            elif path == "/upstream/stats":
                with behaviour.lock:
                    stats = {
                        "version": behaviour.version,
                        "predictions": behaviour.predictions,
                        "failed": behaviour.failed,
                        "bodies": list(behaviour.bodies),
                        "last_path": behaviour.last_path,
                    }
                self._send(200, stats)
            else:
                self._send(404, _error(404, "MICROSERVICE_BAD_DATA", f"no route {path}"))

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            body = self._body()
            if path == "/upstream/config":
                config = json.loads(body or b"{}")
                with behaviour.lock:
                    for key in ("delay_ms", "fail_share", "probability"):
                        if key in config:
                            setattr(behaviour, key, float(config[key]))
                self._send(200, {"ok": True})
                return
            if path != PREDICTIONS_PATH:
                self._send(404, _error(404, "MICROSERVICE_BAD_DATA", f"no route {path}"))
                return
            behaviour.last_path = self.path
            fail = behaviour.count_prediction(body)
            if behaviour.delay_ms > 0:
                time.sleep(behaviour.delay_ms / 1000.0)
            if fail:
                self._send(500, _error(500, "MICROSERVICE_INTERNAL_ERROR", "injected failure"))
                return
            try:
                payload = json.loads(body)
            except ValueError:
                self._send(400, _error(400, "MICROSERVICE_BAD_DATA", "body is not JSON"))
                return
            form, rows = _rows(payload)
            p = behaviour.probability
            label = ">50K" if p >= 0.5 else "<=50K"
            meta = {"tags": {"model_name": "upstream-helper", "model_version": behaviour.version}}
            if form == "data":
                ndarray = [[label, p] for _ in range(rows)]
                answer = {"data": {"names": ["prediction", "probability"], "ndarray": ndarray}}
            else:
                answer = {"jsonData": {"predictions": [label] * rows, "probabilities": [p] * rows}}
            self._send(200, {**answer, "meta": meta})

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default backlog of 5 stalls bursts of new connections


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until killed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--fail-share", type=float, default=0.0, help="share answered 500")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="delay of each prediction")
    parser.add_argument("--probability", type=float, default=0.3, help="probability answered")
    parser.add_argument("--close", action="store_true", help="no keep-alive (gunicorn sync)")
    args = parser.parse_args(argv)
    behaviour = Behaviour(
        args.version, args.fail_share, args.delay_ms, args.probability, args.close
    )
    server = _Server((HOST, args.port), make_handler(behaviour))
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


# -- the test side: start, reconfigure, inspect and stop an upstream subprocess ------------------

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 10.0


@dataclass
class Upstream:
    """One upstream subprocess (its own process group) and where to reach it."""

    process: subprocess.Popen[bytes]
    port: int
    version: str

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def configure(self, **changes: float) -> None:
        """Change delay_ms, fail_share or probability while it runs."""
        import requests

        requests.post(f"{self.url}/upstream/config", json=changes, timeout=5).raise_for_status()

    def stats(self) -> dict[str, Any]:
        """What it received so far (prediction count, last bodies, last path)."""
        import requests

        response = requests.get(f"{self.url}/upstream/stats", timeout=5)
        response.raise_for_status()
        return dict(response.json())

    def kill(self) -> None:
        """SIGKILL the group at once (a crash, not a graceful stop) and reap it."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers; safe to call twice."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.kill()


def start_upstream(port: int, version: str, *options: str) -> Upstream:
    """Start `python -m tests.helpers.upstreams` and wait until /health/ping answers."""
    import requests

    command = [sys.executable, "-m", "tests.helpers.upstreams", "--port", str(port)]
    command += ["--version", version, *options]
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    upstream = Upstream(process, port, version)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"upstream {version} on port {port} exited with {process.returncode}"
            )
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{upstream.url}/health/ping", timeout=1).status_code == 200:
                return upstream
        time.sleep(0.02)
    upstream.stop()
    raise RuntimeError(f"upstream {version} on port {port} not ready in {READY_TIMEOUT_S} s")


if __name__ == "__main__":
    sys.exit(main())
