"""The MLflow registry, by alias: the one place that registers versions and moves aliases.

Under MLflow 3 stages are deprecated and ZenML's stage lookups return nothing, so versions are
found by alias and deployed by explicit version number.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

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


def log_packaged_model(model: PackagedClassifier, example: pd.DataFrame) -> str:
    """Log the pyfunc with signature and input example into the active MLflow run."""
    features = example[model.feature_names]
    signature = infer_signature(features, model.predict(None, features))
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=model,
        signature=signature,
        input_example=features.head(5),
        code_paths=[str(INFERENCE_CODE)],
        pip_requirements=serving_requirements(),
    )
    return str(info.model_uri)


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
