"""Local serving backend: seldon-core microservice processes on 127.0.0.1 that outlive the run.

Each environment (staging, production) has a fixed port, a state file, a server log and a request
log under `<ML_CICD_HOME>/serving/<environment>/`. A deployment first starts the new version on a
spare port and verifies it there; only a verified version replaces what serves on the fixed port,
so a failed smoke test never takes the environment down. PID files are checked against the
process start time, so a PID reused after a crash or a reboot is recognised as stale.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import requests

from mlcicd.paths import REPO_ROOT
from mlcicd.serving.contract import EndpointState, EndpointStatus, ModelRef, ServingError
from mlcicd.serving.server.protocol import DEFAULT_MAX_ROWS, READINESS_PATH


def process_start_ticks(pid: int) -> int | None:
    """Process start time in clock ticks since boot (Linux /proc); None if gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # exited; reap it if it is our child so it does not linger
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        return None
    return int(fields[19])


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


class LocalSeldonBackend:
    """Start, verify, replace, stop and inspect local model servers per environment."""

    def __init__(
        self,
        root: Path,
        ports: dict[str, int],
        tracking_uri: str,
        host: str = "127.0.0.1",
        startup_timeout: float = 180.0,
        max_rows: int = DEFAULT_MAX_ROWS,
    ) -> None:
        if len(set(ports.values())) != len(ports):
            raise ServingError(f"serving ports must differ per environment, got {ports}")
        self.root = root
        self.ports = dict(ports)
        self.tracking_uri = tracking_uri
        self.host = host
        self.startup_timeout = startup_timeout
        self.max_rows = max_rows

    # -- files ---------------------------------------------------------------------------------
    def _dir(self, environment: str) -> Path:
        if environment not in self.ports:
            raise ServingError(
                f"unknown environment '{environment}'; known: {', '.join(sorted(self.ports))}"
            )
        path = self.root / environment
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _state_file(self, environment: str) -> Path:
        return self._dir(environment) / "state.json"

    @contextlib.contextmanager
    def _locked(self, environment: str) -> Iterator[None]:
        """One deployment per environment at a time, across processes."""
        with (self._dir(environment) / ".lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def read_state(self, environment: str) -> EndpointState | None:
        """The recorded endpoint, or None when nothing was ever deployed."""
        path = self._state_file(environment)
        if not path.is_file():
            return None
        try:
            return EndpointState(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def _write_state(self, state: EndpointState) -> None:
        path = self._state_file(state.environment)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(state), indent=2))
        tmp.replace(path)

    # -- processes -----------------------------------------------------------------------------
    def is_running(self, state: EndpointState) -> bool:
        """True only if the recorded PID is alive and is the process we started."""
        return process_start_ticks(state.pid) == state.pid_start_ticks

    def _spawn(self, environment: str, model: ModelRef, port: int, tag: str) -> EndpointState:
        folder = self._dir(environment)
        server_log = folder / f"server-{tag}.log"
        request_log = folder / "requests.jsonl"
        parameters = [
            {"name": "model_uri", "value": model.uri, "type": "STRING"},
            {"name": "model_name", "value": model.name, "type": "STRING"},
            {"name": "model_version", "value": model.version, "type": "STRING"},
            {"name": "request_log", "value": str(request_log), "type": "STRING"},
            {"name": "max_rows", "value": str(self.max_rows), "type": "INT"},
        ]
        runtime_dir = folder / f"run-{tag}"
        runtime_dir.mkdir(exist_ok=True)
        env = {
            **os.environ,
            # gunicorn 26 keeps a control socket under XDG_RUNTIME_DIR, one per server
            "XDG_RUNTIME_DIR": str(runtime_dir),
            "PYTHONUNBUFFERED": "1",
            "MLFLOW_TRACKING_URI": self.tracking_uri,
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p
            ),
        }
        command = [
            sys.executable, "-m", "mlcicd.serving.local.serve",
            "--host", self.host, "--http-port", str(port),
            "--parameters", json.dumps(parameters),
        ]  # fmt: skip
        with server_log.open("ab") as log:
            process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives the pipeline run and its terminal
            )
        ticks = process_start_ticks(process.pid) or 0
        return EndpointState(
            environment=environment,
            model_name=model.name,
            model_version=model.version,
            model_uri=model.uri,
            host=self.host,
            port=port,
            pid=process.pid,
            pid_start_ticks=ticks,
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            server_log=str(server_log),
            request_log=str(request_log),
        )

    def _wait_ready(self, state: EndpointState) -> None:
        deadline = time.monotonic() + self.startup_timeout
        url = f"http://{state.host}:{state.port}{READINESS_PATH}"
        while time.monotonic() < deadline:
            if not self.is_running(state):
                raise ServingError(
                    f"model server for {state.model_name} v{state.model_version} exited during "
                    f"start-up; last log lines:\n{self._tail(Path(state.server_log), 15)}"
                )
            with contextlib.suppress(requests.RequestException):
                if requests.get(url, timeout=2).status_code == 200:
                    return
            time.sleep(0.5)
        self._terminate(state)
        tail = self._tail(Path(state.server_log), 15)
        raise ServingError(
            f"model server for {state.model_name} v{state.model_version} was not ready after "
            f"{self.startup_timeout:.0f} s; last log lines:\n{tail}"
        )

    def _terminate(self, state: EndpointState, timeout: float = 15.0) -> None:
        if not self.is_running(state):
            return
        # gunicorn's master first (a graceful stop of its worker), then whatever is left in the
        # process group (seldon-core's metrics helper), by force if need be.
        with contextlib.suppress(ProcessLookupError):
            os.kill(state.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.is_running(state):
            time.sleep(0.2)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(state.pid, sig)
            time.sleep(0.2)
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(state.pid, os.WNOHANG)

    @staticmethod
    def _tail(path: Path, lines: int) -> str:
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # -- the interface -------------------------------------------------------------------------
    def deploy(
        self,
        environment: str,
        model: ModelRef,
        verify: Callable[[str], None],
    ) -> EndpointState:
        """Serve `model` in `environment` after `verify(prediction_url)` passed on it.

        `verify` raises to reject. The candidate is verified on a spare port first; the running
        endpoint is replaced only after that, and restored if the replacement fails to come up.
        """
        with self._locked(environment):
            fixed = self.ports[environment]
            previous = self.read_state(environment)
            previous_alive = previous is not None and self.is_running(previous)
            if not previous_alive and _port_in_use(self.host, fixed):
                raise ServingError(
                    f"port {fixed} for {environment} is used by another program; stop it or "
                    "choose another port in the environment config (deployment.ports)"
                )
            candidate = self._spawn(environment, model, free_port(self.host), "candidate")
            try:
                self._wait_ready(candidate)
                verify(candidate.url)
            finally:
                self._terminate(candidate)
            if previous is not None and previous_alive:
                self._terminate(previous)
            final = self._spawn(environment, model, fixed, "current")
            try:
                self._wait_ready(final)
                verify(final.url)
            except Exception:
                self._terminate(final)
                if previous is not None and previous_alive:
                    restored = self._spawn(
                        environment,
                        ModelRef(previous.model_name, previous.model_version, previous.model_uri),
                        fixed,
                        "current",
                    )
                    self._wait_ready(restored)
                    self._write_state(restored)
                raise
            self._write_state(final)
            return final

    def status(self, environment: str) -> EndpointStatus:
        """Running, healthy, or stale (a PID file whose process is gone)."""
        state = self.read_state(environment)
        if state is None:
            return EndpointStatus(environment, None, False, False, "nothing deployed")
        if not self.is_running(state):
            why = (
                f"stopped at {state.stopped_at}"
                if state.stopped_at
                else "not running: stale PID file (the server crashed or the machine restarted)"
            )
            return EndpointStatus(
                environment,
                state,
                False,
                False,
                f"{why}; `python run.py restart {environment}` starts it again",
            )
        try:
            healthy = (
                requests.get(
                    f"http://{state.host}:{state.port}{READINESS_PATH}", timeout=2
                ).status_code
                == 200
            )
        except requests.RequestException:
            healthy = False
        return EndpointStatus(
            environment, state, True, healthy, "healthy" if healthy else "running, not ready"
        )

    def stop(self, environment: str) -> bool:
        """Stop the environment's server; False when nothing was running."""
        with self._locked(environment):
            state = self.read_state(environment)
            if state is None or not self.is_running(state):
                return False
            self._terminate(state)
            state.stopped_at = datetime.now(UTC).isoformat(timespec="seconds")
            self._write_state(state)
            return True

    def restart(self, environment: str) -> EndpointState:
        """Start the recorded version again (after a crash or a reboot)."""
        with self._locked(environment):
            state = self.read_state(environment)
            if state is None:
                raise ServingError(f"nothing was ever deployed to {environment}")
            self._terminate(state)
            model = ModelRef(state.model_name, state.model_version, state.model_uri)
            fresh = self._spawn(environment, model, self.ports[environment], "current")
            self._wait_ready(fresh)
            self._write_state(fresh)
            return fresh

    def logs(self, environment: str, lines: int = 50) -> str:
        """The last lines of the serving log."""
        state = self.read_state(environment)
        if state is None:
            return f"nothing deployed to {environment}"
        return self._tail(Path(state.server_log), lines)
