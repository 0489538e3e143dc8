"""Release jobs: the console starts `python run.py promote|rollback` as a background process.

Running the very command an operator would type keeps one code path to production; the process
outlives a browser reload, and its output and exit code, kept under <ML_CICD_HOME>/jobs/<id>/,
are the progress the console shows.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from mlcicd.paths import REPO_ROOT, ml_cicd_home
from mlcicd.release.signing import ENV_RELEASE_TOKEN, issue_release_token
from mlcicd.serving.local.processes import process_start_ticks

EXIT_STATES = {0: "succeeded", 3: "rejected by the smoke test"}
_NOISE = (  # progress bars and import chatter
    "Skipping registering",
    "Downloading artifacts",
    "Failed to disable MLflow autologging",
)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class Job:
    """One promote or rollback started from the console."""

    id: str
    action: str
    version: str
    actor: str
    started_at: str
    command: list[str]


@dataclass(frozen=True)
class JobStatus:
    """Where a job stands: running, succeeded, rejected by the smoke test, or failed."""

    job: Job
    state: str
    exit_code: int | None
    output: str
    interrupted: bool = False

    @property
    def finished(self) -> bool:
        """True once the command exited, or its process is gone without saying how."""
        return self.exit_code is not None or self.interrupted


def jobs_root() -> Path:
    """<ML_CICD_HOME>/jobs."""
    home = ml_cicd_home()
    return home / "jobs"


def start_release(
    config_ref: str,
    stack: str | None,
    action: str,
    version: str,
    actor: str,
    reason: str = "",
) -> Job:
    """Start `run.py promote --version N` (or rollback) in the background and return its job."""
    if action not in {"promote", "rollback"}:
        raise ValueError(f"unknown release action '{action}'")
    job_id = f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{action}-v{version}-{uuid.uuid4().hex[:6]}"
    folder = jobs_root() / job_id
    folder.mkdir(parents=True)
    command = [sys.executable, str(REPO_ROOT / "run.py"), "--config", config_ref]
    if stack:
        command += ["--stack", stack]
    if action == "promote":
        command += ["promote", "--version", version]
    else:
        command += ["rollback", "--to-version", version, "--reason", reason]
    # the job acts as the signed-in reviewer: a token for this one action, never on a command line
    token = issue_release_token(actor, action, version)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    job = Job(job_id, action, version, actor, started, command)
    (folder / "job.json").write_text(json.dumps(asdict(job), indent=2), encoding="utf-8")
    # sh writes the exit code once the command ends; "$0" is the job folder
    script = (
        '"$@" > "$0/output.log" 2>&1; echo $? > "$0/exit_code.tmp"; '
        'mv "$0/exit_code.tmp" "$0/exit_code"'
    )
    process = subprocess.Popen(
        ["/bin/sh", "-c", script, str(folder), *command],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", ENV_RELEASE_TOKEN: token},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    # Who runs the job: a job whose process vanished (killed, machine restarted) without an exit
    # code must not look "running" forever and block every later release.
    process_file = {"pid": process.pid, "start_ticks": process_start_ticks(process.pid)}
    (folder / "process.json").write_text(json.dumps(process_file), encoding="utf-8")
    return job


def _process_gone(folder: Path) -> bool:
    """True when the recorded process no longer runs (or its PID now belongs to another)."""
    try:
        recorded = json.loads((folder / "process.json").read_text(encoding="utf-8"))
        pid, ticks = int(recorded["pid"]), recorded.get("start_ticks")
    except (OSError, ValueError, KeyError, TypeError):
        return False  # just started, or written by an older version: trust the exit code file
    current = process_start_ticks(pid)
    return current is None or (ticks is not None and current != ticks)


def _exit_code(folder: Path) -> int | None:
    try:
        return int((folder / "exit_code").read_text().strip())
    except (OSError, ValueError):
        return None


def job_status(job_id: str, tail_lines: int = 40) -> JobStatus | None:
    """The job's state and the last lines of its output; None for an unknown id."""
    folder = jobs_root() / job_id
    try:
        job = Job(**json.loads((folder / "job.json").read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    try:
        raw = (folder / "output.log").read_text(encoding="utf-8", errors="replace")
        output = _ANSI.sub("", raw)
    except OSError:
        output = ""
    lines = [
        line
        for line in output.splitlines()
        if line.strip() and not any(noise in line for noise in _NOISE)
    ]
    code = _exit_code(folder)
    # the exit code is read again after the liveness check: the job may have just ended
    interrupted = code is None and _process_gone(folder) and _exit_code(folder) is None
    if interrupted:
        state = "interrupted: its process is gone without an exit code"
    else:
        code = code if code is not None else _exit_code(folder)
        state = "running" if code is None else EXIT_STATES.get(code, "failed")
    return JobStatus(job, state, code, "\n".join(lines[-tail_lines:]), interrupted)


def list_jobs(limit: int = 20) -> list[JobStatus]:
    """The most recent jobs, newest first."""
    root = jobs_root()
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(root.iterdir(), reverse=True)[:limit]:
        status = job_status(folder.name)
        if status is not None:
            found.append(status)
    return found


def latest_job(version: str, action: str | None = None) -> JobStatus | None:
    """The newest job for a version (optionally of one action), or None."""
    for status in list_jobs(limit=200):
        if status.job.version == version and action in (None, status.job.action):
            return status
    return None


def running_job() -> JobStatus | None:
    """A release that has not finished yet, if any."""
    return next((s for s in list_jobs(limit=200) if not s.finished), None)
