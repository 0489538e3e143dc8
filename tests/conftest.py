"""Test session setup: one private ZenML store, MLflow database and checkpoint folder per session.

The environment is set before anything imports ZenML, so no test touches the user's own store.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from mlcicd.config.loader import deep_merge
from tests.helpers.configs import csv_data_overrides, fast_overrides, local_config
from tests.helpers.session import REPO_ROOT, SERVING_PORTS, SESSION_DIR, stop_model_servers

# Folder -> markers, so `-m "not slow"` really skips pipelines, servers and the browser.
FOLDER_MARKERS = {
    "unit": ("unit",),
    "stack": ("stack",),
    "serving": ("serving", "slow"),
    "rollout": ("rollout", "slow"),
    "integration": ("integration", "slow"),
    "console": ("console", "slow"),
    "browser": ("browser", "slow"),
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests_dir = Path(__file__).resolve().parent
    for item in items:
        folder = item.path.resolve().relative_to(tests_dir).parts[0]
        for name in FOLDER_MARKERS.get(folder, ()):
            item.add_marker(name)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stop_model_servers()
    shutil.rmtree(SESSION_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def adult_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The embedded Adult files read with the project's own loader and local config."""
    from mlcicd.config import load_config
    from mlcicd.data.loading import load_datasets

    config, schema = load_config("local")
    return load_datasets(config.data, schema, config.seed)


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write configs/local.yaml with overrides into tmp_path; fast training, private checkpoints."""

    def _write(overrides: dict[str, Any] | None = None, name: str = "test.yaml") -> Path:
        raw = deep_merge(
            deep_merge(local_config(), fast_overrides(tmp_path / "checkpoints")), overrides or {}
        )
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
        return csv_data_overrides(train_path, golden_path)

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


@pytest.fixture(scope="session")
def packaged(
    adult_frames: tuple[pd.DataFrame, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory
) -> Any:
    """One tiny real packaged model (2 epochs, 2,000 rows) shared by the whole session."""
    from mlcicd.config import TorchMLPConfig, load_config
    from mlcicd.data.preprocessing import fit_preprocessor, split_train_validation
    from mlcicd.training.fit import fit_packaged_model

    config, schema = load_config("local")
    raw = config.model_dump(mode="json", by_alias=True)
    raw["model"]["torch_mlp"] = TorchMLPConfig(hidden_units=[16], max_epochs=2).model_dump()
    raw["training"]["checkpoint_dir"] = str(tmp_path_factory.mktemp("ckpt"))
    config = type(config).model_validate(raw)
    train, validation = split_train_validation(adult_frames[0].head(2000), config.data, seed=0)
    pre = fit_preprocessor(train, config.data, schema)
    model, _ = fit_packaged_model(train, validation, pre, config, schema, "fp")
    return model


@pytest.fixture(scope="session")
def packaged_onnx(packaged: Any) -> bytes:
    """The shared model's ONNX export, as the package stage writes it."""
    from mlcicd.packaging.onnx_export import export_onnx

    return export_onnx(packaged)


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """One real PostgreSQL server per test session (127.0.0.1, stopped at the end).

    Its folder is outside pytest's private temp tree: as root the server runs as `postgres`.
    """
    import tempfile

    from tests.helpers.postgres import postgres_server

    folder = Path(tempfile.mkdtemp(prefix="mlcicd-postgres-"))
    folder.chmod(0o755)
    try:
        with postgres_server(folder / "cluster") as url:
            yield url
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def release_store_url(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Each test that takes this runs twice: on a fresh SQLite file and a fresh PostgreSQL db."""
    import uuid

    from mlcicd.release.store import ENV_STORE_URL

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'releases.db'}"
    else:
        from tests.helpers.postgres import create_database

        admin = request.getfixturevalue("postgres_admin_url")
        url = create_database(admin, f"releases_{uuid.uuid4().hex[:12]}")
    monkeypatch.setenv(ENV_STORE_URL, url)
    return url
