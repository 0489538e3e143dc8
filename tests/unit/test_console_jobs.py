"""Release jobs: a job whose process vanished without an exit code never blocks later releases."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import asdict
from pathlib import Path

import pytest

from mlcicd.runner.jobs import Job, job_status, jobs_root, running_job
from mlcicd.serving.local.processes import process_start_ticks


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ML_CICD_HOME", str(tmp_path))
    return tmp_path


def _job_folder(job_id: str, pid: int, ticks: int | None, exit_code: int | None = None) -> Path:
    folder = jobs_root() / job_id
    folder.mkdir(parents=True)
    job = Job(job_id, "promote", "3", "alice", "2026-11-25T12:00:00+00:00", ["run.py"])
    (folder / "job.json").write_text(json.dumps(asdict(job)))
    (folder / "process.json").write_text(json.dumps({"pid": pid, "start_ticks": ticks}))
    (folder / "output.log").write_text("[production] deploying version 3 to production\n")
    if exit_code is not None:
        (folder / "exit_code").write_text(f"{exit_code}\n")
    return folder


def test_a_live_process_without_exit_code_is_running(home: Path) -> None:
    _job_folder("a-live", os.getpid(), process_start_ticks(os.getpid()))
    status = job_status("a-live")
    assert status is not None and status.state == "running" and not status.finished
    assert running_job() is not None


def test_a_vanished_process_is_interrupted_and_blocks_nothing(home: Path) -> None:
    gone = subprocess.Popen(["/bin/true"])
    ticks = process_start_ticks(gone.pid)
    gone.wait()
    _job_folder("b-gone", gone.pid, ticks)
    status = job_status("b-gone")
    assert status is not None and status.finished and status.interrupted
    assert status.state.startswith("interrupted") and status.exit_code is None
    assert "deploying version 3" in status.output
    assert running_job() is None


def test_a_reused_pid_is_not_mistaken_for_the_job(home: Path) -> None:
    ticks = process_start_ticks(os.getpid())
    assert ticks is not None
    _job_folder("c-reused", os.getpid(), ticks - 1)  # same PID, another start time
    status = job_status("c-reused")
    assert status is not None and status.interrupted


def test_an_exit_code_wins_over_liveness(home: Path) -> None:
    _job_folder("d-done", 999_999_999, None, exit_code=3)
    status = job_status("d-done")
    assert status is not None and status.state == "rejected by the smoke test"
    assert status.finished and not status.interrupted
