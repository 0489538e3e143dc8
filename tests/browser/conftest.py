"""Browser test setup: two real staged versions and a real `streamlit run` console on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.conftest import REPO_ROOT, SERVING_PORTS, SESSION_DIR

E2E_MODEL = "console-e2e"
REVIEWER, PASSWORD = "alice", "correct horse battery"


@dataclass(frozen=True)
class ReleaseEnv:
    """A config with two pending versions: 1 holds `staging`, 2 `challenger` (staging failed)."""

    config: Path
    reviewers: Path
    model_name: str


def _write_config(folder: Path, frames: Any, overrides: dict[str, Any]) -> Path:
    from tests.conftest import _deep_merge

    train, golden = folder / "train.csv", folder / "golden.csv"
    frames[0].head(2500).to_csv(train, index=False)
    frames[1].head(2500).to_csv(golden, index=False)
    raw = yaml.safe_load((REPO_ROOT / "configs" / "local.yaml").read_text())
    fast = {
        "model_name": E2E_MODEL,
        "data": {
            "train": {"path": str(train), "skip_rows": 0},
            "golden": {"path": str(golden), "skip_rows": 0},
            "csv": {"header": True, "skip_initial_space": True, "na_values": ["?"]},
        },
        "model": {"torch_mlp": {"max_epochs": 6, "patience": 2, "hidden_units": [32]}},
        "training": {"checkpoint_dir": str(folder / "checkpoints")},
        "deployment": {"local_ports": SERVING_PORTS},
        "gates": {
            "thresholds": {
                "minimums": {"roc_auc": 0.75, "accuracy": 0.75, "f1": 0.30},
                "maximums": {"log_loss": 0.60},
            },
            "latency": {"single_row_requests": 50, "batch_repeats": 2, "max_p95_ms": 1000,
                        "max_p99_ms": 2000, "min_batch_rows_per_second": 100},
        },
    }  # fmt: skip
    path = folder / f"e2e-{len(list(folder.glob('e2e-*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(_deep_merge(_deep_merge(raw, fast), overrides)))
    return path


@pytest.fixture(scope="session")
def release_env(
    tmp_path_factory: pytest.TempPathFactory, zenml_client: Any, adult_frames: Any
) -> ReleaseEnv:
    """Train twice: version 1 is staged; version 2's staging smoke test fails (challenger only)."""
    from mlcicd.cli import main as run
    from mlcicd.release.reviewers import add_reviewer

    folder = tmp_path_factory.mktemp("console-e2e")
    config = _write_config(folder, adult_frames, {})
    assert run.main(["--config", str(config)]) == run.EXIT_OK
    slow = {"deployment": {"staging": {"smoke_p95_ms": 0.001}}}
    assert run.main(["--config", str(_write_config(folder, adult_frames, slow))]) == 3
    reviewers = folder / "reviewers.yaml"
    add_reviewer(reviewers, REVIEWER, PASSWORD, display_name="Alice")
    return ReleaseEnv(config, reviewers, E2E_MODEL)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def console_url(release_env: ReleaseEnv) -> Iterator[str]:
    """`streamlit run console/app.py` on 127.0.0.1 with the session's stores; stopped afterwards."""
    port = _free_port()
    log = SESSION_DIR / "streamlit.log"
    env = {
        **os.environ,
        "ML_CICD_CONFIG": str(release_env.config),
        "ML_CICD_REVIEWERS_FILE": str(release_env.reviewers),
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        sys.executable, "-m", "streamlit", "run", "console/app.py",
        "--server.address", "127.0.0.1", "--server.port", str(port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"streamlit exited early:\n{log.read_text()[-3000:]}")
            try:
                if requests.get(f"{url}/_stcore/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start in 120 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(process.pid, signal.SIGKILL)
