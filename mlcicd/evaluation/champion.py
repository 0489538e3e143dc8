"""Find and load the current champion, and compare predictions on canonical rows.

The champion is the `champion` version of this run's registry, or, when
ML_CICD_CHAMPION_REGISTRY_URI names the team's MLflow server, of that registry: a pull request
trained on a fresh CI runner (empty local registry) is then compared with what serves in
production. Credentials come from MLflow's own variables (MLFLOW_TRACKING_USERNAME/_PASSWORD or
MLFLOW_TRACKING_TOKEN); read access is enough.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pandas as pd
import requests
from mlflow import MlflowClient

from inference.packaged_model import PackagedClassifier
from mlcicd.registry.versions import load_version, version_by_alias
from mlcicd.reporting.model import GoldenRowPrediction

ENV_CHAMPION_REGISTRY = "ML_CICD_CHAMPION_REGISTRY_URI"
# set by the pull-request workflow: there, an unset registry means "compared with nothing"
ENV_CHAMPION_REGISTRY_REQUIRED = "ML_CICD_CHAMPION_REGISTRY_REQUIRED"
REACHABLE_TIMEOUT_SECONDS = 15


class ChampionRegistryUnreachable(Exception):
    """The team's registry named by ML_CICD_CHAMPION_REGISTRY_URI did not answer."""


def champion_registry() -> str:
    """The team's registry URI when configured, else '' (this run's own registry)."""
    return os.environ.get(ENV_CHAMPION_REGISTRY, "").strip().rstrip("/")


def check_reachable(uri: str) -> None:
    """Fail fast (MLflow itself retries for minutes) when an HTTP registry does not answer."""
    if not uri.startswith(("http://", "https://")):
        return
    try:
        answer = requests.get(f"{uri}/health", timeout=REACHABLE_TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        raise ChampionRegistryUnreachable(
            f"the team registry {uri} ({ENV_CHAMPION_REGISTRY}) cannot be reached: "
            f"{type(exc).__name__}; the pull request was NOT compared with production's champion"
        ) from None
    if answer.status_code >= 400:
        raise ChampionRegistryUnreachable(
            f"the team registry {uri} ({ENV_CHAMPION_REGISTRY}) answered {answer.status_code} "
            "on /health; the pull request was NOT compared with production's champion"
        )


@dataclass(frozen=True)
class Champion:
    """The champion version, its packaged model and its ONNX export (b"" when it has none)."""

    version: str
    model: PackagedClassifier
    onnx_model: bytes = b""
    tags: dict[str, str] = field(default_factory=dict)  # the version's, lineage included


def load_champion(client: MlflowClient, model_name: str, registry: str = "") -> Champion | None:
    """The version holding alias `champion`, downloaded and loaded; None when there is none.

    With `registry` (the team's MLflow URI) the champion comes from there, not from `client`.
    """
    if not registry and os.environ.get(ENV_CHAMPION_REGISTRY_REQUIRED, "") == "true":
        raise ChampionRegistryUnreachable(
            f"{ENV_CHAMPION_REGISTRY} is not set, so the pull request was NOT compared with "
            "production's champion (set the repository variable and the registry credentials; "
            "README 'Pull requests meet the champion')"
        )
    if registry:
        check_reachable(registry)
        client = MlflowClient(tracking_uri=registry, registry_uri=registry)
    version = version_by_alias(client, model_name, "champion")
    if version is None:
        return None
    model, onnx_model = load_version(client, model_name, version, registry)
    tags = dict(client.get_model_version(model_name, version).tags or {})
    return Champion(version, model, onnx_model, tags)


def read_golden_rows(path: str) -> pd.DataFrame:
    """The versioned canonical rows (CSV with a header, feature columns named)."""
    return pd.read_csv(path, skipinitialspace=True, keep_default_na=True)


def predict_golden_rows(
    rows: pd.DataFrame,
    challenger: PackagedClassifier,
    champion: PackagedClassifier | None,
) -> list[GoldenRowPrediction]:
    """Challenger (and champion) predictions per canonical row, flagging class flips."""
    ours = challenger.predict(None, rows)
    theirs = champion.predict(None, rows) if champion is not None else None
    result = []
    for i in range(len(rows)):
        prediction = GoldenRowPrediction(
            row=i,
            challenger_probability=float(ours["probability"].iloc[i]),
            challenger_prediction=str(ours["prediction"].iloc[i]),
        )
        if theirs is not None:
            prediction.champion_probability = float(theirs["probability"].iloc[i])
            prediction.champion_prediction = str(theirs["prediction"].iloc[i])
            prediction.flipped = prediction.champion_prediction != prediction.challenger_prediction
        result.append(prediction)
    return result
