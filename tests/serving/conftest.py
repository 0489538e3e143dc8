"""Serving test fixtures: a tiny registered model and one real seldon-core server per module."""

from __future__ import annotations

from collections.abc import Iterator

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from mlcicd.registry.versions import log_packaged_model, register_version
from tests.helpers.serving import (
    MODEL_NAME,
    RegisteredModel,
    SeldonServer,
    start_seldon_server,
)


@pytest.fixture(scope="module")
def registered_model(packaged, packaged_onnx, adult_frames, tmp_path_factory) -> RegisteredModel:
    """The tiny model and its ONNX export registered as serving-test/1 in a throwaway store."""
    store = tmp_path_factory.mktemp("mlflow-serving")
    tracking_uri = f"sqlite:///{store / 'mlflow.db'}"
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(tracking_uri)
    try:
        experiment = mlflow.create_experiment("serving", artifact_location=str(store / "artifacts"))
        with mlflow.start_run(experiment_id=experiment):
            uri = log_packaged_model(packaged, adult_frames[1].head(50), packaged_onnx)
        client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        version = register_version(client, MODEL_NAME, uri, {}, "serving tests")
    finally:
        mlflow.set_tracking_uri(previous)
    return RegisteredModel(tracking_uri, f"models:/{MODEL_NAME}/{version}", MODEL_NAME, version)


@pytest.fixture(scope="module")
def seldon_server(registered_model, tmp_path_factory) -> Iterator[SeldonServer]:
    """One ready server for the whole module; always stopped."""
    server = start_seldon_server(registered_model, tmp_path_factory.mktemp("seldon-server"))
    try:
        server.wait_until(lambda r: r.status_code == 200)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def golden_rows(packaged, adult_frames) -> pd.DataFrame:
    """Golden rows (including missing categories) in the model's feature order."""
    golden = adult_frames[1]
    with_missing = golden[golden[packaged.feature_names].isna().any(axis=1)].head(5)
    return pd.concat([golden.head(15), with_missing])[packaged.feature_names].reset_index(drop=True)
