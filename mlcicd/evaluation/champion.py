"""Find and load the current champion, and compare predictions on canonical rows."""

from __future__ import annotations

import mlflow.pyfunc
import pandas as pd
from mlflow import MlflowClient

from inference.packaged_model import PackagedClassifier
from mlcicd.registry.versions import version_by_alias
from mlcicd.reporting.model import GoldenRowPrediction


def load_champion(client: MlflowClient, model_name: str) -> tuple[str, PackagedClassifier] | None:
    """The version holding alias `champion` and its packaged model; None when there is none."""
    version = version_by_alias(client, model_name, "champion")
    if version is None:
        return None
    loaded = mlflow.pyfunc.load_model(f"models:/{model_name}/{version}")
    python_model = loaded.unwrap_python_model()
    if not isinstance(python_model, PackagedClassifier):
        raise TypeError(
            f"champion version {version} is a {type(python_model).__name__}, "
            "not a PackagedClassifier"
        )
    return version, python_model


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
