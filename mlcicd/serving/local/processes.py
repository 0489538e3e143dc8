"""The processes of the local backend: model servers and routers on 127.0.0.1 that outlive a run.

Every process is recorded with its start time (Linux /proc), so a PID reused after a crash or a
reboot is recognised as stale and never signalled. Processes get their own session (they outlive
the pipeline run and its terminal) and are stopped as a process group.
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
from pathlib import Path

import requests

from mlcicd.paths import REPO_ROOT
from mlcicd.serving.contract import ModelRef, ServingError
from mlcicd.serving.local.records import VariantRecord, now_utc
from mlcicd.serving.server.protocol import READINESS_PATH, ServerOptions


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


def port_in_use(host: str, port: int) -> bool:
    """Something accepts connections on the port (ours or a foreign program)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def is_alive(pid: int, start_ticks: int) -> bool:
    """True only if `pid` runs and is the very process that was recorded."""
    return pid > 0 and process_start_ticks(pid) == start_ticks


def tail(path: Path | str, lines: int) -> str:
    """The last lines of a log file, or a placeholder."""
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def child_environment(tracking_uri: str, runtime_dir: Path) -> dict[str, str]:
    """Environment of a spawned server: MLflow, the repository importable, unbuffered output."""
    return {
        **os.environ,
        # gunicorn 26 keeps a control socket under XDG_RUNTIME_DIR, one per server
        "XDG_RUNTIME_DIR": str(runtime_dir),
        "PYTHONUNBUFFERED": "1",
        "MLFLOW_TRACKING_URI": tracking_uri,
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p
        ),
    }


def spawn_model_server(
    folder: Path,
    model: ModelRef,
    port: int,
    host: str,
    tracking_uri: str,
    options: ServerOptions,
    interface: str | None = None,
) -> VariantRecord:
    """Start one version's seldon-core server on `port`; returns at once (not yet ready).

    `interface` swaps the model class (the tests' fault-injecting servers); the default is the
    project's SeldonModelServer.
    """
    tag = f"v{model.version}"
    server_log = folder / f"server-{tag}.log"
    request_log = folder / f"requests-{tag}.jsonl"
    parameters = [
        {"name": "model_uri", "value": model.uri, "type": "STRING"},
        {"name": "model_name", "value": model.name, "type": "STRING"},
        {"name": "model_version", "value": model.version, "type": "STRING"},
        {"name": "request_log", "value": str(request_log), "type": "STRING"},
        *options.parameters(),
    ]
    runtime_dir = folder / f"run-{tag}"
    runtime_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "mlcicd.serving.local.serve",
        "--host", host, "--http-port", str(port),
        "--parameters", json.dumps(parameters),
    ]  # fmt: skip
    if interface:
        command += ["--interface", interface]
    with server_log.open("ab") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=child_environment(tracking_uri, runtime_dir),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return VariantRecord(
        version=model.version,
        model_name=model.name,
        model_uri=model.uri,
        port=port,
        pid=process.pid,
        pid_start_ticks=process_start_ticks(process.pid) or 0,
        started_at=now_utc(),
        server_log=str(server_log),
        request_log=str(request_log),
    )


def wait_ready(variant: VariantRecord, host: str, timeout: float) -> None:
    """Until /health/status answers 200; a server that exits or never gets ready is stopped."""
    deadline = time.monotonic() + timeout
    url = f"http://{host}:{variant.port}{READINESS_PATH}"
    what = f"model server for {variant.model_name} v{variant.version}"
    while time.monotonic() < deadline:
        if not is_alive(variant.pid, variant.pid_start_ticks):
            raise ServingError(
                f"{what} exited during start-up; last log lines:\n{tail(variant.server_log, 15)}"
            )
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.25)
    terminate(variant.pid, variant.pid_start_ticks)
    raise ServingError(
        f"{what} was not ready after {timeout:.0f} s; "
        f"last log lines:\n{tail(variant.server_log, 15)}"
    )


def terminate(pid: int, start_ticks: int, timeout: float = 15.0) -> None:
    """SIGTERM the main process (a graceful stop), then its whole group, by force if need be."""
    if not is_alive(pid, start_ticks):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and is_alive(pid, start_ticks):
        time.sleep(0.1)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        time.sleep(0.1)
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
