"""The model server's Prometheus metrics: a real seldon server, and seldon's app in-process."""

from __future__ import annotations

import bisect
import json
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from seldon_core.metrics import SeldonMetrics
from seldon_core.wrapper import get_rest_microservice

from mlcicd.serving.server.metrics import LATENCY_BUCKETS, PROBABILITY_BUCKETS
from mlcicd.serving.server.model_server import SeldonModelServer
from mlcicd.serving.server.predictors import PyfuncPredictor
from mlcicd.serving.server.protocol import PREDICTIONS_PATH, READINESS_PATH
from mlcicd.serving.server.request_parsing import FeatureSpec
from tests.helpers.serving import MAX_ROWS, MODEL_NAME

FAMILIES = (
    "mlcicd_model_requests",
    "mlcicd_model_request_duration_seconds",
    "mlcicd_model_predicted_probability",
)


def rows_of(frame: pd.DataFrame) -> list[list[Any]]:
    """Frame rows as JSON values (NaN -> null, numpy -> Python)."""
    return json.loads(frame.to_json(orient="values"))


def records_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records"))


class FakeModel:
    """probability = age / 100; raises `error` when given one."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def predict(self, context: Any, frame: pd.DataFrame) -> pd.DataFrame:
        if self.error is not None:
            raise self.error
        probability = frame["age"].to_numpy() / 100.0
        return pd.DataFrame(
            {"prediction": np.where(probability >= 0.5, "y", "n"), "probability": probability}
        )


def in_process_server(model: Any) -> SeldonModelServer:
    server = SeldonModelServer(model_uri="models:/fake/3")
    server._model = PyfuncPredictor(model)
    server._features = [FeatureSpec("age", "long"), FeatureSpec("education", "string")]
    server._state = "ready"
    return server


def scrape(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of the mlcicd families."""
    values = {}
    for family in text_string_to_metric_families(text):
        if family.name in FAMILIES:
            for sample in family.samples:
                values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def series(values, name: str, **labels: str) -> float:
    """The sum of a sample over the series whose labels include `labels`."""
    return sum(
        v
        for (sample, got), v in values.items()
        if sample == name and set(labels.items()) <= set(got)
    )


def read_metrics(server) -> dict:
    response = requests.get(server.url("/metrics"), timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return scrape(response.text)


def post(server, body: Any, headers: dict[str, str] | None = None) -> requests.Response:
    return requests.post(
        server.url(PREDICTIONS_PATH),
        data=body if isinstance(body, bytes) else json.dumps(body).encode(),
        headers=headers or {"Content-Type": "application/json"},
        timeout=30,
    )


def test_metrics_expose_the_three_families_with_the_contract_buckets(
    seldon_server, registered_model
):
    response = requests.get(seldon_server.url("/metrics"), timeout=10)
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert set(FAMILIES) <= set(families)
    assert families["mlcicd_model_requests"].type == "counter"
    labels = {"model_name": MODEL_NAME, "model_version": registered_model.version}
    for name in FAMILIES[1:]:
        assert families[name].type == "histogram"
        buckets = [s.labels["le"] for s in families[name].samples if s.name == f"{name}_bucket"]
        expected = LATENCY_BUCKETS if "duration" in name else PROBABILITY_BUCKETS
        assert [float(b) for b in buckets] == [*expected, float("inf")]
        assert all(labels.items() <= s.labels.items() for s in families[name].samples)
    codes = {s.labels["code"] for s in families["mlcicd_model_requests"].samples}
    assert {"200", "400", "500", "503"} <= codes  # created at zero, visible to increase()


def test_requests_are_counted_by_status_and_rows_by_probability(seldon_server, golden_rows):
    names = list(golden_rows.columns)
    before = read_metrics(seldon_server)
    probabilities: list[float] = []
    good = 5
    for i in range(good):
        rows = rows_of(golden_rows.head(3 + i))
        answer = post(seldon_server, {"data": {"names": names, "ndarray": rows}})
        assert answer.status_code == 200, answer.text
        probabilities += [row[1] for row in answer.json()["data"]["ndarray"]]
    record = records_of(golden_rows.head(1))[0]
    assert post(seldon_server, {"jsonData": {**record, "age": "old"}}).status_code == 400
    too_many = {"data": {"names": names, "ndarray": rows_of(golden_rows.head(1)) * (MAX_ROWS + 1)}}
    assert post(seldon_server, too_many).status_code == 413
    assert post(seldon_server, b"{}", {"Content-Type": "text/plain"}).status_code == 415
    assert requests.get(seldon_server.url(READINESS_PATH), timeout=10).status_code == 200
    after = read_metrics(seldon_server)

    def increase(name: str, **labels: str) -> float:
        return series(after, name, **labels) - series(before, name, **labels)

    requests_total = "mlcicd_model_requests_total"
    assert increase(requests_total, code="200") == good
    assert increase(requests_total, code="400") == 1
    assert increase(requests_total, code="413") == 1
    assert increase(requests_total, code="415") == 1
    assert increase(requests_total) == good + 3  # health checks and /metrics are not counted
    assert increase(requests_total, code="500") == increase(requests_total, code="503") == 0
    assert increase("mlcicd_model_request_duration_seconds_count") == good + 3
    assert 0 < increase("mlcicd_model_request_duration_seconds_sum") < 30

    probability = "mlcicd_model_predicted_probability"
    assert increase(f"{probability}_count") == len(probabilities) == sum(range(3, 3 + good))
    assert increase(f"{probability}_sum") == pytest.approx(sum(probabilities), abs=1e-6)
    per_bin = [0] * (len(PROBABILITY_BUCKETS) + 1)
    for p in probabilities:
        per_bin[bisect.bisect_left(PROBABILITY_BUCKETS, p)] += 1
    cumulative = [sum(per_bin[: i + 1]) for i in range(len(per_bin))]
    bounds = [*(repr(b) for b in PROBABILITY_BUCKETS), "+Inf"]
    got = [increase(f"{probability}_bucket", le=le) for le in bounds]
    assert got == cumulative


# -- in-process: 503 while loading, 500, and recording that fails -----------------------------


@pytest.fixture(scope="module")
def seldon_metrics() -> Iterator[SeldonMetrics]:
    """seldon's own metrics object (it starts a multiprocessing Manager: shut down after)."""
    metrics = SeldonMetrics(worker_id_func=os.getpid)
    try:
        yield metrics
    finally:
        metrics._manager.shutdown()


def app_for(server, seldon_metrics):
    return get_rest_microservice(server, seldon_metrics).test_client()


BODY = {"jsonData": [{"age": 60, "education": "x"}, {"age": 15, "education": "y"}]}


def test_refusals_while_loading_and_internal_errors_are_counted(seldon_metrics) -> None:
    loading = in_process_server(FakeModel())
    loading._state = "loading"
    client = app_for(loading, seldon_metrics)
    assert client.post(PREDICTIONS_PATH, json=BODY).status_code == 503
    broken = in_process_server(FakeModel(RuntimeError("boom")))
    broken_client = app_for(broken, seldon_metrics)
    assert broken_client.post(PREDICTIONS_PATH, json=BODY).status_code == 500
    assert broken_client.get("/nowhere").status_code == 404  # error handlers still apply
    loading_values = scrape(client.get("/metrics").get_data(as_text=True))
    broken_values = scrape(broken_client.get("/metrics").get_data(as_text=True))
    total = "mlcicd_model_requests_total"
    assert series(loading_values, total, code="503") == 1
    assert series(loading_values, total) == 1
    assert series(broken_values, total, code="500") == 1
    assert series(broken_values, total) == 1  # /nowhere is not a prediction route
    assert series(broken_values, "mlcicd_model_predicted_probability_count") == 0


def test_a_failing_recorder_never_fails_a_request(seldon_metrics, monkeypatch) -> None:
    server = in_process_server(FakeModel())
    client = app_for(server, seldon_metrics)

    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("metrics broken")

    monkeypatch.setattr(server.metrics._requests, "labels", explode)
    monkeypatch.setattr(server.metrics._probability, "observe_many", explode)
    answer = client.post(PREDICTIONS_PATH, json=BODY)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["jsonData"]["probabilities"] == [0.6, 0.15]
    assert client.get("/metrics").status_code == 200
