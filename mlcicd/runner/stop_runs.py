"""Stop the pipeline runs this machine launched that are still going: a cancelled CI job's.

GitHub cancels a job by stopping its processes on the runner; the Kubernetes orchestrator's Job
keeps running in the cluster (a GPU held for hours). Every launch appends its run name to
`<ML_CICD_HOME>/runs/launched.txt`; `python run.py stop-runs` (the workflows' `if: cancelled()`
step) stops each of them that has not finished, through the orchestrator that runs it (on
Kubernetes: its Jobs are deleted), and forgets them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mlcicd.paths import home_dir

LAUNCHED = "launched.txt"


def launched_file() -> Path:
    """Where launches are recorded: under ML_CICD_HOME, which the cancel step shares."""
    return home_dir("runs") / LAUNCHED


def record_launch(run_name: str) -> None:
    """Remember a run before it is submitted (a cancel can come at any moment after)."""
    with launched_file().open("a", encoding="utf-8") as handle:
        handle.write(run_name + "\n")


def stop_launched_runs(say: Callable[[str], None]) -> list[str]:
    """Stop every recorded run that is still going; the names of those stopped."""
    from zenml.client import Client
    from zenml.utils.run_utils import stop_run

    path = launched_file()
    names = [line.strip() for line in path.read_text().splitlines()] if path.is_file() else []
    stopped: list[str] = []
    for name in dict.fromkeys(n for n in names if n):
        try:
            run = Client().get_pipeline_run(name)
        except KeyError:
            say(f"  {name}: not on the ZenML server (never submitted)")
            continue
        status = str(getattr(run.status, "value", run.status))
        if run.status.is_finished:
            say(f"  {name}: already {status}")
            continue
        try:
            stop_run(run, graceful=False)
        except NotImplementedError:
            say(f"  {name}: {status}, but its orchestrator cannot stop runs")
            continue
        except Exception as exc:  # the other runs must still be tried
            say(f"  {name}: could not be stopped: {type(exc).__name__}: {exc}")
            continue
        stopped.append(name)
        say(f"  {name}: was {status}, stopped (its Kubernetes Jobs are deleted)")
    path.unlink(missing_ok=True)
    return stopped
