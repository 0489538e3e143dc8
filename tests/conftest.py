"""Test session setup: one private ZenML store, MLflow database and checkpoint folder per session.

The environment is set before anything imports ZenML, so no test touches the user's own store.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
SESSION_DIR = Path(tempfile.mkdtemp(prefix="ml-cicd-tests-"))
os.environ.update(
    {
        "ZENML_CONFIG_PATH": str(SESSION_DIR / "zenml"),
        "ZENML_LOCAL_STORES_PATH": str(SESSION_DIR / "zenml" / "local_stores"),
        "ML_CICD_HOME": str(SESSION_DIR / "home"),
        "ZENML_ANALYTICS_OPT_IN": "false",
        "GX_ANALYTICS_ENABLED": "false",
        "ZENML_LOGGING_VERBOSITY": "WARN",
        "ZENML_RUN_SINGLE_STEPS_WITHOUT_STACK": "true",
        "ZENML_ENABLE_RICH_TRACEBACK": "false",
    }
)
os.environ.pop("ZENML_STORE_URL", None)
os.environ.pop("ZENML_ACTIVE_STACK_ID", None)

ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
    "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week",
    "native-country", "income",
]  # fmt: skip


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Private serving ports, so tests never touch a developer's own staging server on 8601/8602.
SERVING_PORTS = {"staging": _free_port(), "production": _free_port()}


def _stop_model_servers() -> None:
    """Stop every model server the session started (they outlive pipeline runs by design)."""
    from mlcicd.serving.local.processes import LocalSeldonBackend

    root = SESSION_DIR / "home" / "serving"
    if not root.is_dir():
        return
    backend = LocalSeldonBackend(root=root, ports=SERVING_PORTS, tracking_uri="unused")
    for environment in SERVING_PORTS:
        backend.stop(environment)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _stop_model_servers()
    shutil.rmtree(SESSION_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def adult_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The embedded Adult files read with the project's own loader and local config."""
    from mlcicd.config import load_config
    from mlcicd.data.loading import load_datasets

    config, schema = load_config("local")
    return load_datasets(config.data, schema, config.seed)


def _deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write configs/local.yaml with overrides into tmp_path; fast training, private checkpoints."""

    def _write(overrides: dict[str, Any] | None = None, name: str = "test.yaml") -> Path:
        raw = yaml.safe_load((REPO_ROOT / "configs" / "local.yaml").read_text())
        fast = {
            "model": {"torch_mlp": {"max_epochs": 6, "patience": 2, "hidden_units": [32]}},
            "training": {"checkpoint_dir": str(tmp_path / "checkpoints")},
            "deployment": {"local_ports": SERVING_PORTS},
            # bars a 2,500-row sample can meet; tests of the gates set their own
            "gates": {
                "thresholds": {
                    "minimums": {"roc_auc": 0.75, "accuracy": 0.75, "f1": 0.30},
                    "maximums": {"log_loss": 0.60},
                },
                # generous: the machine is shared with other tests; test_gates_pipeline sets tight ones
                "latency": {
                    "single_row_requests": 50,
                    "batch_repeats": 2,
                    "max_p95_ms": 1000,
                    "max_p99_ms": 2000,
                    "min_batch_rows_per_second": 100,
                },
            },
        }
        raw = _deep_merge(_deep_merge(raw, fast), overrides or {})
        path = tmp_path / name
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        return path

    return _write


@pytest.fixture
def adult_sample_files(
    tmp_path: Path, adult_frames: tuple[pd.DataFrame, pd.DataFrame]
) -> Callable[..., dict[str, Any]]:
    """Write (possibly corrupted) header CSV samples of Adult and return matching config overrides."""

    def _write(
        train: pd.DataFrame | None = None, golden: pd.DataFrame | None = None, rows: int = 1500
    ) -> dict[str, Any]:
        train_frame = train if train is not None else adult_frames[0].head(rows)
        golden_frame = golden if golden is not None else adult_frames[1].head(rows)
        train_path, golden_path = tmp_path / "train.csv", tmp_path / "golden.csv"
        train_frame.to_csv(train_path, index=False)
        golden_frame.to_csv(golden_path, index=False)
        return {
            "data": {
                "train": {"path": str(train_path), "skip_rows": 0},
                "golden": {"path": str(golden_path), "skip_rows": 0},
                "csv": {"header": True, "skip_initial_space": True, "na_values": ["?"]},
            }
        }

    return _write


@pytest.fixture(scope="session")
def serving_ports() -> dict[str, int]:
    """The session's private staging/production ports."""
    return SERVING_PORTS


@pytest.fixture(scope="session")
def zenml_client() -> Iterator[Any]:
    """The session's private ZenML client, with the local stack registered and active."""
    from zenml.client import Client
    from zenml.utils import source_utils

    from mlcicd.stack.loader import ensure_stack

    source_utils.set_custom_source_root(str(REPO_ROOT))
    ensure_stack("local")
    yield Client()


@pytest.fixture(scope="session")
def tracking_uri(zenml_client: Any) -> str:
    """MLflow tracking URI of the session's local stack."""
    tracker = zenml_client.active_stack.experiment_tracker
    return str(tracker.get_tracking_uri())
