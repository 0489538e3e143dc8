"""The deployer's side of the router: the routes file, reloads, state, start and stop.

Blocking and `requests`-based, like the rest of the local deployer. A rollout step is: write the
new table with `write_routes` (atomic: a router never reads half a file), `reload` the running
router (it validates and swaps, or refuses and keeps the old table), then `wait_drained` before
stopping a variant that no longer takes traffic.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from mlcicd.serving.router.routes import RouteTable

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_HOST = "127.0.0.1"
STATE_PATH, RELOAD_PATH = "/router/state", "/router/reload"
POLL_S = 0.05
LOG_TAIL_LINES = 20
STOP_TIMEOUT_S = 15.0  # the router's own drain (10 s) plus its shadow drain and log flush


class RouterError(RuntimeError):
    """The router refused a request, could not be reached, or did not start."""


def write_routes(path: Path, table: RouteTable) -> None:
    """Write the routes file atomically: a temporary file in the same folder, fsync, replace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(table.to_dict(), indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)  # atomic on POSIX: readers see the old file or the new one
    except BaseException:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        raise
    # The rename itself survives a crash only once the folder's entry is on disk too.
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _url(host: str, port: int, path: str) -> str:
    return f"http://{host}:{port}{path}"


def reload(port: int, host: str = DEFAULT_HOST, timeout: float = 5.0) -> int:
    """Ask the router to re-read its routes file; the generation it now serves.

    RouterError carries the router's own message when it refuses the file (400: the old table
    stays), or says that it cannot be reached.
    """
    url = _url(host, port, RELOAD_PATH)
    try:
        response = requests.post(url, timeout=timeout)
    except requests.RequestException as error:
        raise RouterError(f"the router at {host}:{port} cannot be reached: {error}") from error
    try:
        body: Any = response.json()
    except ValueError:
        body = {}
    if response.status_code == 400:
        message = body.get("error") if isinstance(body, dict) else None
        raise RouterError(f"the router refused the routes: {message or response.text}")
    if response.status_code != 200 or not isinstance(body, dict) or "generation" not in body:
        raise RouterError(
            f"unexpected answer from {url}: {response.status_code} {response.text[:500]}"
        )
    return int(body["generation"])


def router_state(
    port: int, host: str = DEFAULT_HOST, timeout: float = 2.0
) -> dict[str, Any] | None:
    """The router's table, pid and per-version counters; None when it does not answer."""
    try:
        response = requests.get(_url(host, port, STATE_PATH), timeout=timeout)
        if response.status_code != 200:
            return None
        body = response.json()
    except (requests.RequestException, ValueError):
        return None
    return body if isinstance(body, dict) else None


def in_flight(state: dict[str, Any], version: str) -> int:
    """Requests the router has in flight to `version` (0 for a version it no longer knows)."""
    stats = state.get("stats", {}).get(str(version))
    return int(stats.get("in_flight", 0)) if isinstance(stats, dict) else 0


def wait_drained(port: int, version: str, timeout: float = 10.0, host: str = DEFAULT_HOST) -> bool:
    """Until the router has no request in flight to `version`; False on timeout.

    An unreachable router is polled again rather than taken as drained: a request may still be
    in flight through a router that is only slow to answer.
    """
    deadline = time.monotonic() + timeout
    while True:
        state = router_state(port, host=host, timeout=min(2.0, max(0.1, timeout)))
        if state is not None and in_flight(state, version) == 0:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start_router(
    routes_file: Path,
    port: int,
    log_file: Path,
    host: str = DEFAULT_HOST,
    ready_timeout: float = 15.0,
) -> subprocess.Popen[bytes]:
    """Start a router in its own session and wait until it answers /router/state.

    Ready means the answer comes from this process (its pid), not from an older router still
    holding the port. On exit or timeout the process is stopped and RouterError carries the tail
    of `log_file`. The caller owns the returned process and stops it with `stop_router`.
    """
    log_file = Path(log_file)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "mlcicd.serving.router.serve",
        "--routes", str(Path(routes_file).resolve()), "--host", host, "--port", str(port),
    ]  # fmt: skip
    python_path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": python_path, "PYTHONUNBUFFERED": "1"}
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        code = process.poll()
        if code is not None:
            raise RouterError(
                f"the router on {host}:{port} exited with status {code} during start-up; "
                f"last log lines:\n{_tail(log_file)}"
            )
        state = router_state(port, host=host, timeout=1.0)
        if state is not None and state.get("pid") == process.pid:
            return process
        time.sleep(POLL_S)
    stop_router(process.pid)
    raise RouterError(
        f"the router on {host}:{port} was not ready after {ready_timeout:g} s; "
        f"last log lines:\n{_tail(log_file)}"
    )


def _exited(pid: int) -> bool:
    """Whether the process is gone (reaped here when it is our child, or a zombie)."""
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] == "Z"
    return False


def _signal(pid: int, sig: signal.Signals) -> None:
    """The process group led by `pid`, else (not a group leader) the process alone."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
    except PermissionError:
        pass


def stop_router(pid: int, timeout: float = STOP_TIMEOUT_S) -> bool:
    """SIGTERM the router's process group (a graceful drain), then SIGKILL it after `timeout`.

    True when it stopped within the timeout. The router leads its own session (start_router),
    so the group is exactly it and its children.
    """
    _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _exited(pid):
            return True
        time.sleep(POLL_S)
    _signal(pid, signal.SIGKILL)
    kill_deadline = time.monotonic() + 2.0
    while time.monotonic() < kill_deadline and not _exited(pid):
        time.sleep(POLL_S)
    return False
