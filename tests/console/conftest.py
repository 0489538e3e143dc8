"""Console test setup: a private environment config and reviewers file for the AppTest runs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.console import APPTEST_MODEL, PASSWORDS
from tests.helpers.session import REPO_ROOT, SERVING_PORTS


@pytest.fixture(scope="session")
def console_env(tmp_path_factory: pytest.TempPathFactory, zenml_client: Any) -> Iterator[Path]:
    """ML_CICD_CONFIG and ML_CICD_REVIEWERS_FILE for the console, set for the whole session."""
    from mlcicd.release.reviewers import add_reviewer

    folder = tmp_path_factory.mktemp("console")
    raw = yaml.safe_load((REPO_ROOT / "configs" / "local.yaml").read_text())
    raw["model_name"] = APPTEST_MODEL
    raw["deployment"]["local_ports"] = SERVING_PORTS
    config = folder / "console.yaml"
    config.write_text(yaml.safe_dump(raw, sort_keys=False))
    reviewers = folder / "reviewers.yaml"
    for name, password in PASSWORDS.items():
        add_reviewer(reviewers, name, password, display_name=name.capitalize())
    saved = {k: os.environ.get(k) for k in ("ML_CICD_CONFIG", "ML_CICD_REVIEWERS_FILE")}
    os.environ["ML_CICD_CONFIG"] = str(config)
    os.environ["ML_CICD_REVIEWERS_FILE"] = str(reviewers)
    yield config
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def stop_metrics_samplers() -> Iterator[None]:
    """The console's per-environment samplers are cached resources with a daemon thread: an
    AppTest run leaves them polling servers its test has stopped. Clearing the cache releases
    them (console.context._stop_sampler), so no thread outlives its test."""
    yield
    import streamlit as st

    st.cache_resource.clear()
    import threading

    left = [t.name for t in threading.enumerate() if t.name.startswith("metrics-sampler-")]
    assert not left, f"metrics samplers still running after the test: {left}"
