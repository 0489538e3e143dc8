"""Wall time of `python run.py` on Adult versus a bare script doing the same training.

Usage: python benchmarks/orchestration_overhead.py [--config local]
Runs both in fresh processes with a private ZenML store and MLflow database, so the numbers
include interpreter start-up and imports, as a user experiences them.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return elapsed, proc.stdout


def main() -> None:
    """Print both wall times, their ratio, and the pipeline's per-step durations."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default="local")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        env = {
            **os.environ,
            "ZENML_CONFIG_PATH": f"{tmp}/zenml",
            "ML_CICD_HOME": f"{tmp}/home",
            "ZENML_ANALYTICS_OPT_IN": "false",
            "GX_ANALYTICS_ENABLED": "false",
        }
        warm, _ = _timed([sys.executable, "run.py", "stacks"], env)
        pipeline_s, out = _timed([sys.executable, "run.py", "--config", args.config], env)
        bare_s, bare_out = _timed([sys.executable, "benchmarks/bare_training.py", args.config], env)
        steps = _step_durations(env)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"python run.py --config {args.config}:           {pipeline_s:7.1f} s")
    print(f"bare load + train + evaluate (no ZenML/MLflow): {bare_s:7.1f} s")
    print(f"ratio pipeline / bare:                          {pipeline_s / bare_s:7.2f}x")
    print("pipeline step durations (s): " + ", ".join(f"{k} {v:.1f}" for k, v in steps.items()))
    print("bare metrics: " + bare_out.strip())
    lines = out.splitlines()
    start = lines.index("Golden-set metrics:") + 1
    metrics = [line.strip() for line in lines[start : start + 6]]
    print("pipeline metrics: " + "; ".join(metrics))
    del warm


def _step_durations(env: dict[str, str]) -> dict[str, float]:
    code = (
        "from zenml.client import Client\n"
        "run = Client().list_pipeline_runs(sort_by='desc:created', size=1).items[0]\n"
        "for name, step in run.steps.items():\n"
        "    print(name, (step.end_time - step.start_time).total_seconds())\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    durations = {}
    for line in proc.stdout.splitlines():
        name, _, seconds = line.rpartition(" ")
        try:
            durations[name] = float(seconds)
        except ValueError:
            continue
    return durations


if __name__ == "__main__":
    main()
