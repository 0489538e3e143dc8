"""Browser test setup: two real staged versions and a real `streamlit run` console on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from mlcicd.config.loader import deep_merge
from tests.helpers.browser import E2E_MODEL, PASSWORD, REVIEWER, ReleaseEnv
from tests.helpers.configs import csv_data_overrides, fast_overrides, local_config
from tests.helpers.session import REPO_ROOT, SESSION_DIR, free_port


def _write_config(folder: Path, frames: Any, overrides: dict[str, Any]) -> Path:
    train, golden = folder / "train.csv", folder / "golden.csv"
    frames[0].head(2500).to_csv(train, index=False)
    frames[1].head(2500).to_csv(golden, index=False)
    fast = deep_merge(fast_overrides(folder / "checkpoints"), csv_data_overrides(train, golden))
    fast["model_name"] = E2E_MODEL
    path = folder / f"e2e-{len(list(folder.glob('e2e-*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(deep_merge(deep_merge(local_config(), fast), overrides)))
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


@pytest.fixture(scope="session")
def console_url(release_env: ReleaseEnv) -> Iterator[str]:
    """`streamlit run console/app.py` on 127.0.0.1 with the session's stores; stopped afterwards."""
    port = free_port()
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
