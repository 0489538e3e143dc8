"""Rollout fixtures: real registered versions (healthy and deliberately broken), a real backend.

Every version is the session's tiny trained model; the broken ones wrap it (tests/helpers/
faulty_models.py) so that only their online answers misbehave. Servers, routers and metrics are
real processes on 127.0.0.1, stopped when the module ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import requests
from mlflow import MlflowClient

from mlcicd.registry.versions import log_packaged_model, register_version
from mlcicd.serving.contract import ModelRef
from mlcicd.serving.local.backend import LocalSeldonBackend
from mlcicd.serving.replay import ReplayResult, replay, row_bodies
from tests.helpers.faulty_models import FaultyClassifier
from tests.helpers.session import free_port

MODEL_NAME = "rollout-test"
MODES = ("healthy", "healthy-too", "erroring", "slow", "shifted")
ENV = "production"
RPS = 40.0


@dataclass(frozen=True)
class Versions:
    """Registered version number per fault mode, in one throwaway SQLite store."""

    tracking_uri: str
    by_mode: dict[str, str]


@pytest.fixture(scope="package")
def versions(packaged, packaged_onnx, adult_frames, tmp_path_factory) -> Versions:
    """Healthy versions carry the ONNX export; faulty ones are pyfunc-only, so their faults run."""
    store = tmp_path_factory.mktemp("mlflow-rollout")
    tracking_uri = f"sqlite:///{store / 'mlflow.db'}"
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(tracking_uri)
    by_mode: dict[str, str] = {}
    try:
        client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        experiment = mlflow.create_experiment("rollout", artifact_location=str(store / "a"))
        for mode in MODES:
            model = (
                packaged
                if mode.startswith("healthy")
                else FaultyClassifier.from_model(packaged, mode)
            )
            with mlflow.start_run(experiment_id=experiment):
                exported = packaged_onnx if mode.startswith("healthy") else b""
                uri = log_packaged_model(model, adult_frames[1].head(50), exported)
            by_mode[mode] = register_version(client, MODEL_NAME, uri, {}, mode)
    finally:
        mlflow.set_tracking_uri(previous)
    return Versions(tracking_uri, by_mode)


@pytest.fixture(scope="package")
def backend(versions: Versions, tmp_path_factory) -> Iterator[LocalSeldonBackend]:
    root: Path = tmp_path_factory.mktemp("serving-rollout")
    local = LocalSeldonBackend(
        root, {"production": free_port(), "staging": free_port()}, versions.tracking_uri
    )
    try:
        yield local
    finally:
        local.stop("production")


@pytest.fixture(scope="package")
def golden_rows(packaged, adult_frames) -> pd.DataFrame:
    return adult_frames[1][packaged.feature_names].head(400).reset_index(drop=True)


@pytest.fixture(scope="package")
def stable(backend: LocalSeldonBackend, versions: Versions) -> str:
    """The first healthy version, deployed directly: what every rollout starts beside."""
    version = versions.by_mode["healthy"]
    backend.deploy(ENV, ref(version), verify=lambda url: None)
    return version


def ref(version: str) -> ModelRef:
    """The registered version by explicit number."""
    return ModelRef(MODEL_NAME, version, f"models:/{MODEL_NAME}/{version}")


@contextmanager
def steady_traffic(backend: LocalSeldonBackend, rows: pd.DataFrame) -> Iterator[ReplayResult]:
    """Steady client traffic on the environment's port for the duration of the block."""
    stop = threading.Event()
    holder: list[ReplayResult] = []
    worker = threading.Thread(
        target=lambda: holder.append(replay(backend.url(ENV), rows, RPS, 300, stop=stop)),
        daemon=True,
    )
    worker.start()
    result = ReplayResult()
    try:
        yield result
    finally:
        stop.set()
        worker.join(timeout=30)
        if holder:
            result.__dict__.update(holder[0].__dict__)


def warm_up(rows: pd.DataFrame, requests_sent: int = 40) -> Callable[[str], None]:
    """A verify step that only sends golden rows, as the real smoke test does before traffic.

    A fresh server's first answers are slow; a strategy that judges a candidate's p99 on its
    very first client requests (blue/green, shadow) would otherwise judge its start-up.
    """
    bodies = row_bodies(rows.head(requests_sent))

    def send(url: str) -> None:
        with requests.Session() as session:
            for body in bodies:
                session.post(url, json=body, timeout=30)

    return send


def roles(backend: LocalSeldonBackend) -> dict[str, tuple[str, int]]:
    """Running versions with their role and share of traffic."""
    status = backend.status(ENV)
    return {v.version: (v.role, v.traffic_percent) for v in status.variants if v.running}
