"""The MLflow registry, by alias: the one place that registers versions and moves aliases.

Under MLflow 3 stages are deprecated and ZenML's stage lookups return nothing, so versions are
found by alias and deployed by explicit version number.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from inference.onnx_classifier import (
    ONNX_ARTIFACT,
    ONNX_FILE_NAME,
    ONNX_SHA256_KEY,
    read_onnx_export,
)
from inference.packaged_model import PackagedClassifier
from mlcicd.paths import INFERENCE_DIR

INFERENCE_CODE = INFERENCE_DIR
ALIASES = ("challenger", "staging", "champion")


@dataclass(frozen=True)
class RegisteredVersion:
    """Where a registered model version lives."""

    name: str
    version: str
    model_uri: str
    run_id: str | None
    alias: str


def _pinned(dist: str) -> str:
    return f"{dist}=={metadata.version(dist)}"


def serving_requirements() -> list[str]:
    """Explicit pins: faster than MLflow's inference and exactly what we trained with."""
    return [
        _pinned(d) for d in ("mlflow", "torch", "scikit-learn", "pandas", "numpy", "cloudpickle")
    ]


def log_packaged_model(
    model: PackagedClassifier, example: pd.DataFrame, onnx_model: bytes = b""
) -> str:
    """Log the pyfunc with signature and input example into the active MLflow run.

    The ONNX export, when there is one, travels inside the same model (a python_function
    artifact) with its sha256 in the MLmodel metadata: whoever downloads the version gets both
    and can check the file (`inference.onnx_classifier.read_onnx_export`).
    """
    features = example[model.feature_names]
    signature = infer_signature(features, model.predict(None, features))
    with tempfile.TemporaryDirectory() as folder:
        artifacts: dict[str, str] = {}
        model_metadata: dict[str, str] = {}
        if onnx_model:
            path = Path(folder) / ONNX_FILE_NAME
            path.write_bytes(onnx_model)
            artifacts[ONNX_ARTIFACT] = str(path)
            model_metadata[ONNX_SHA256_KEY] = hashlib.sha256(onnx_model).hexdigest()
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=model,
            artifacts=artifacts or None,
            signature=signature,
            input_example=features.head(5),
            code_paths=[str(INFERENCE_CODE)],
            pip_requirements=serving_requirements(),
            metadata=model_metadata or None,
        )
    return str(info.model_uri)


def load_version(
    client: MlflowClient, name: str, version: str, tracking_uri: str = ""
) -> tuple[PackagedClassifier, bytes]:
    """A registered version's packaged model and its ONNX export (b"" when it has none).

    Downloaded through the version's own download URI, so a `client` of another registry (the
    team's, `tracking_uri`) is asked, not MLflow's global one; the ONNX file is checked against
    the sha256 the model recorded.
    """
    with tempfile.TemporaryDirectory() as folder:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=client.get_model_version_download_uri(name, version),
            dst_path=folder,
            tracking_uri=tracking_uri or None,
        )
        loaded = mlflow.pyfunc.load_model(local)
        onnx_model = read_onnx_export(Path(local)) or b""
    model = loaded.unwrap_python_model()
    if not isinstance(model, PackagedClassifier):
        raise TypeError(
            f"version {version} of {name} is a {type(model).__name__}, not a PackagedClassifier"
        )
    return model, onnx_model


def register_version(
    client: MlflowClient,
    name: str,
    model_uri: str,
    tags: dict[str, str],
    description: str,
) -> str:
    """Create the registered model if needed and a new version carrying every lineage tag."""
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(
            name, description="Gated binary classifier registered by the ML CI/CD pipelines."
        )
    version = mlflow.register_model(model_uri, name, tags=tags, await_registration_for=300)
    client.update_model_version(name, version.version, description=description)
    return str(version.version)


def move_alias(client: MlflowClient, name: str, alias: str, version: str) -> None:
    """Point an alias at a version; aliases are unique per model, so the old holder loses it."""
    if alias not in ALIASES:
        raise ValueError(f"unknown alias '{alias}'; known aliases: {', '.join(ALIASES)}")
    client.set_registered_model_alias(name, alias, version)


def version_by_alias(client: MlflowClient, name: str, alias: str) -> str | None:
    """The version holding an alias, or None when no version holds it."""
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


@dataclass(frozen=True)
class VersionInfo:
    """One registered version with its aliases and tags, as the console and promotion read it."""

    name: str
    version: str
    aliases: tuple[str, ...]
    tags: dict[str, str]
    created_ms: int
    run_id: str | None


def list_versions(client: MlflowClient, name: str) -> list[VersionInfo]:
    """Every version of a registered model, newest first; empty when the model does not exist."""
    try:
        found = client.search_model_versions(f"name = '{name}'")
        # search results do not carry aliases in every store; the registered model does
        holders = client.get_registered_model(name).aliases or {}
    except MlflowException:
        return []
    versions = [
        VersionInfo(
            name=name,
            version=str(mv.version),
            aliases=tuple(sorted(a for a, v in holders.items() if str(v) == str(mv.version))),
            tags=dict(mv.tags or {}),
            created_ms=int(mv.creation_timestamp or 0),
            run_id=mv.run_id,
        )
        for mv in found
    ]
    return sorted(versions, key=lambda v: int(v.version), reverse=True)


def get_version(client: MlflowClient, name: str, version: str) -> VersionInfo | None:
    """One version with its aliases and tags, or None when it does not exist."""
    if not str(version).isdigit():
        return None
    try:
        mv = client.get_model_version(name, str(version))
    except MlflowException:
        return None
    return VersionInfo(
        name=name,
        version=str(mv.version),
        aliases=tuple(sorted(mv.aliases or [])),
        tags=dict(mv.tags or {}),
        created_ms=int(mv.creation_timestamp or 0),
        run_id=mv.run_id,
    )
