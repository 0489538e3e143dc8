"""End-to-end: a real seldon-core-microservice serving a real registered model on 127.0.0.1."""

from __future__ import annotations

import json
import math
import os
import random
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest
import requests
from seldon_core.flask_utils import SeldonMicroserviceException

from mlcicd.serving.server.model_server import SeldonModelServer
from mlcicd.serving.server.predictors import PyfuncPredictor
from mlcicd.serving.server.protocol import LIVENESS_PATH, PREDICTIONS_PATH, READINESS_PATH
from mlcicd.serving.server.request_parsing import FeatureSpec
from tests.helpers.serving import MAX_ROWS, MODEL_NAME, REPO_ROOT, start_seldon_server

JSON_HEADERS = {"Content-Type": "application/json"}


def to_json_value(value: Any) -> Any:
    """A frame cell as the JSON a client would send (NaN -> null, numpy -> Python)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def rows_of(frame: pd.DataFrame) -> list[list[Any]]:
    return [[to_json_value(v) for v in row] for row in frame.itertuples(index=False)]


def records_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    names = list(frame.columns)
    return [dict(zip(names, row, strict=True)) for row in rows_of(frame)]


def post(server, body: Any = None, raw: bytes | None = None, headers=None, path=PREDICTIONS_PATH):
    data = raw if raw is not None else json.dumps(body, allow_nan=True).encode()
    return requests.post(
        server.url(path),
        data=data,
        headers=JSON_HEADERS if headers is None else headers,
        timeout=30,
    )


def error_info(response: requests.Response) -> str:
    return str(response.json()["status"]["info"])


@pytest.fixture(scope="module")
def offline(packaged, golden_rows) -> pd.DataFrame:
    return packaged.predict(None, golden_rows)


# -- readiness -------------------------------------------------------------------------------------


def test_readiness_is_503_until_the_model_is_loaded_then_200(seldon_server, registered_model):
    statuses = seldon_server.startup_statuses
    assert statuses[-1] == 200
    assert set(statuses[:-1]) <= {503}, statuses
    assert statuses[0] == 503, "the first readiness answer came after loading finished"
    ready = requests.get(seldon_server.url(READINESS_PATH), timeout=10)
    assert ready.status_code == 200
    assert ready.json()["model_name"] == MODEL_NAME
    assert ready.json()["model_version"] == registered_model.version
    assert requests.get(seldon_server.url(LIVENESS_PATH), timeout=10).status_code == 200


def test_metadata_names_the_served_model_version(seldon_server, registered_model):
    answer = requests.get(seldon_server.url("/api/v1.0/metadata"), timeout=10)
    assert answer.status_code == 200
    metadata = answer.json()
    assert metadata["name"] == MODEL_NAME
    assert metadata["versions"] == [registered_model.version]
    assert metadata["custom"]["model_uri"] == registered_model.model_uri
    assert metadata["platform"] == "onnxruntime"


def test_a_model_uri_that_does_not_exist_stays_unready_and_says_why(
    registered_model, tmp_path
) -> None:
    server = start_seldon_server(registered_model, tmp_path / "bad", model_uri="models:/nope/7")
    try:
        failed = server.wait_until(lambda r: r.status_code != 503 or "LOAD_FAILED" in r.text)
        assert failed.status_code == 503
        assert failed.json()["status"]["reason"] == "MODEL_LOAD_FAILED"
        assert "models:/nope/7" in error_info(failed) and "nope" in error_info(failed)
        assert 200 not in server.startup_statuses
        refused = post(server, {"jsonData": {"age": 39}})
        assert refused.status_code == 503
        assert "failed to load" in error_info(refused)
    finally:
        server.stop()
    assert server.process.returncode is not None


# -- valid requests ------------------------------------------------------------------------------


def test_data_form_matches_offline_predictions(
    seldon_server, golden_rows, offline, registered_model
):
    names = list(golden_rows.columns)
    response = post(seldon_server, {"data": {"names": names, "ndarray": rows_of(golden_rows)}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"]["names"] == ["prediction", "probability"]
    labels = [row[0] for row in body["data"]["ndarray"]]
    probabilities = [row[1] for row in body["data"]["ndarray"]]
    assert labels == list(offline["prediction"])
    np.testing.assert_allclose(probabilities, offline["probability"], rtol=0, atol=1e-6)
    assert body["meta"]["tags"]["model_name"] == MODEL_NAME
    assert body["meta"]["tags"]["model_version"] == registered_model.version
    assert body["meta"]["tags"]["model_uri"] == registered_model.model_uri
    assert body["meta"]["tags"]["runtime"] == "onnx"  # the version's export answered


def test_the_onnx_server_answers_like_the_pyfunc_server_on_the_golden_set(
    seldon_server, registered_model, adult_frames, packaged, tmp_path
) -> None:
    golden = adult_frames[1].head(MAX_ROWS * 10)[packaged.feature_names]
    pyfunc = start_seldon_server(registered_model, tmp_path / "pyfunc", runtime="pyfunc")
    try:
        pyfunc.wait_until(lambda r: r.status_code == 200)
        answers: dict[str, list[list[Any]]] = {"onnx": [], "pyfunc": []}
        for start in range(0, len(golden), MAX_ROWS):
            chunk = golden.iloc[start : start + MAX_ROWS]
            body = {"data": {"names": list(chunk.columns), "ndarray": rows_of(chunk)}}
            for runtime, server in (("onnx", seldon_server), ("pyfunc", pyfunc)):
                response = post(server, body)
                assert response.status_code == 200, response.text
                assert response.json()["meta"]["tags"]["runtime"] == runtime
                answers[runtime] += response.json()["data"]["ndarray"]
    finally:
        pyfunc.stop()
    assert len(answers["onnx"]) == len(golden)
    assert [label for label, _ in answers["onnx"]] == [label for label, _ in answers["pyfunc"]]
    np.testing.assert_allclose(
        [p for _, p in answers["onnx"]], [p for _, p in answers["pyfunc"]], rtol=0, atol=1e-6
    )


def test_data_form_accepts_names_in_any_order(seldon_server, golden_rows, offline):
    shuffled = golden_rows[list(reversed(golden_rows.columns))]
    body = {"data": {"names": list(shuffled.columns), "ndarray": rows_of(shuffled)}}
    response = post(seldon_server, body)
    assert response.status_code == 200, response.text
    probabilities = [row[1] for row in response.json()["data"]["ndarray"]]
    np.testing.assert_allclose(probabilities, offline["probability"], rtol=0, atol=1e-6)


@pytest.mark.parametrize("shape", ["list", "instances", "single"])
def test_json_data_forms_match_offline_predictions(seldon_server, golden_rows, offline, shape):
    records = records_of(golden_rows)
    json_data: Any = {
        "list": records,
        "instances": {"instances": records},
        "single": records[0],
    }[shape]
    expected = offline.head(1) if shape == "single" else offline
    response = post(seldon_server, {"jsonData": json_data})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["jsonData"]["predictions"] == list(expected["prediction"])
    np.testing.assert_allclose(
        body["jsonData"]["probabilities"], expected["probability"], rtol=0, atol=1e-6
    )
    assert body["meta"]["tags"]["model_name"] == MODEL_NAME


def test_integral_floats_are_accepted_for_integer_columns(seldon_server, golden_rows, offline):
    record = records_of(golden_rows.head(1))[0]
    record["age"] = float(record["age"])
    response = post(seldon_server, {"jsonData": record})
    assert response.status_code == 200, response.text
    assert response.json()["jsonData"]["probabilities"][0] == pytest.approx(
        offline["probability"][0], abs=1e-6
    )


# -- bad requests --------------------------------------------------------------------------------


def bad_cases(names: list[str], row: list[Any]) -> list[tuple[str, Any, int, list[str]]]:
    """(id, body, status, fragments the error message must contain)."""
    record = dict(zip(names, row, strict=True))
    age = names.index("age")

    def with_age(value: Any) -> list[Any]:
        return [value if i == age else v for i, v in enumerate(row)]

    return [
        ("not-an-object", [row], 400, ["must be a JSON object"]),
        ("no-data-or-jsondata", {"strData": "x"}, 400, ["'data'", "'jsonData'"]),
        ("data-without-names", {"data": {"ndarray": [row]}}, 400, ["no 'names'"]),
        ("data-without-ndarray", {"data": {"names": names}}, 400, ["no 'ndarray'"]),
        (
            "missing-feature",
            {"data": {"names": names[1:], "ndarray": [row[1:]]}},
            400,
            ["missing feature(s): ['age']"],
        ),
        (
            "unknown-feature",
            {"data": {"names": [*names, "income"], "ndarray": [[*row, ">50K"]]}},
            400,
            ["unknown feature(s): ['income']"],
        ),
        (
            "duplicate-feature",
            {"data": {"names": [*names, "age"], "ndarray": [[*row, 39]]}},
            400,
            ["duplicate feature(s): ['age']"],
        ),
        ("ndarray-1d", {"data": {"names": names, "ndarray": row}}, 400, ["2-D list of rows"]),
        (
            "short-row",
            {"data": {"names": names, "ndarray": [row, row[:-1]]}},
            400,
            [f"row 1 has {len(names) - 1} values, expected {len(names)}"],
        ),
        ("empty", {"data": {"names": names, "ndarray": []}}, 400, ["empty payload"]),
        ("empty-json-data", {"jsonData": []}, 400, ["empty payload"]),
        (
            "too-many-rows",
            {"data": {"names": names, "ndarray": [row] * (MAX_ROWS + 1)}},
            413,
            ["too many rows", str(MAX_ROWS)],
        ),
        (
            "string-in-long",
            {"data": {"names": names, "ndarray": [with_age("39")]}},
            400,
            ["row 0, column 'age'", "expected a number (long)"],
        ),
        (
            "bool-in-long",
            {"data": {"names": names, "ndarray": [row, with_age(True)]}},
            400,
            ["row 1, column 'age'", "boolean"],
        ),
        (
            "list-value",
            {"jsonData": {**record, "age": [39]}},
            400,
            ["column 'age'", "got a list"],
        ),
        (
            "number-in-string",
            {"jsonData": {**record, "education": 12}},
            400,
            ["column 'education'", "expected a string"],
        ),
        ("nan", {"jsonData": {**record, "age": math.nan}}, 400, ["column 'age'", "NaN/Infinity"]),
        (
            "infinity",
            {"jsonData": {**record, "hours-per-week": -math.inf}},
            400,
            ["column 'hours-per-week'", "NaN/Infinity"],
        ),
        (
            "huge-number",
            {"jsonData": {**record, "capital-gain": 1e300}},
            400,
            ["column 'capital-gain'", "number too large"],
        ),
        (
            "fractional-long",
            {"jsonData": {**record, "age": 39.5}},
            400,
            ["column 'age'", "expected an integer"],
        ),
        (
            "null-in-required",
            {"jsonData": {**record, "education": None}},
            400,
            ["column 'education'", "null in required column"],
        ),
        (
            "record-missing-key",
            {"jsonData": {k: v for k, v in record.items() if k != "sex"}},
            400,
            ["missing feature(s): ['sex']"],
        ),
    ]


BAD_CASE_IDS = [case[0] for case in bad_cases(["age", "x"], [39, "a"])]


@pytest.mark.parametrize("case_id", BAD_CASE_IDS)
def test_bad_requests_get_a_4xx_naming_the_problem(seldon_server, golden_rows, case_id):
    cases = {c[0]: c[1:] for c in bad_cases(list(golden_rows.columns), rows_of(golden_rows)[0])}
    body, status, fragments = cases[case_id]
    response = post(seldon_server, body)
    assert response.status_code == status, response.text
    info = error_info(response)
    for fragment in fragments:
        assert fragment in info, info
    assert response.json()["status"]["reason"] == "MICROSERVICE_BAD_DATA"


def test_invalid_json_and_wrong_content_type_are_4xx(seldon_server):
    invalid = post(seldon_server, raw=b'{"data": ')
    assert invalid.status_code == 400 and "JSON" in error_info(invalid)
    plain = post(seldon_server, raw=b"{}", headers={"Content-Type": "text/plain"})
    assert plain.status_code == 415 and "Content-Type" in error_info(plain)
    wrong_method = requests.get(seldon_server.url(PREDICTIONS_PATH), timeout=10)
    assert 400 <= wrong_method.status_code < 500


# -- request log ---------------------------------------------------------------------------------


def read_log(server, at_least: int = 0, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The request log's entries, once it holds `at_least` (a background thread writes it)."""
    deadline = time.monotonic() + timeout
    while True:
        text = server.request_log.read_text() if server.request_log.exists() else ""
        entries = [json.loads(line) for line in text.splitlines()]
        if len(entries) >= at_least or time.monotonic() > deadline:
            return entries
        time.sleep(0.05)


def test_request_log_gets_one_json_line_per_request(seldon_server, golden_rows, offline):
    before = len(read_log(seldon_server))
    records = records_of(golden_rows.head(3))
    good = post(seldon_server, {"jsonData": records})
    bad = post(seldon_server, {"jsonData": {**records[0], "age": "old"}})
    assert good.status_code == 200 and bad.status_code == 400
    entries = read_log(seldon_server, at_least=before + 2)
    assert len(entries) == before + 2
    ok, refused = entries[-2], entries[-1]
    assert ok["status"] == 200 and ok["error"] is None
    assert ok["model_name"] == MODEL_NAME and ok["model_version"] == "1"
    assert ok["records"] == records
    assert ok["predictions"] == list(offline["prediction"].head(3))
    assert ok["probabilities"] == good.json()["jsonData"]["probabilities"]
    assert ok["latency_ms"] >= 0 and ok["timestamp"].endswith("+00:00")
    assert refused["status"] == 400 and "column 'age'" in refused["error"]
    assert refused["predictions"] is None and "old" in refused["request"]


def test_a_graceful_stop_writes_every_queued_log_entry(registered_model, golden_rows, tmp_path):
    server = start_seldon_server(registered_model, tmp_path / "drained")
    try:
        server.wait_until(lambda r: r.status_code == 200)
        records = records_of(golden_rows.head(2))
        for index in range(40):
            body = {"jsonData": records, "meta": {"puid": f"drain-{index}"}}
            assert post(server, body).status_code == 200
    finally:
        server.stop()  # SIGTERM: gunicorn stops its worker, whose exit drains the queue
    ids = [entry["request_id"] for entry in read_log(server)]
    assert ids == [f"drain-{index}" for index in range(40)]


# -- bad-input sweep -----------------------------------------------------------------------------

GARBAGE_VALUES: list[Any] = [
    math.nan, math.inf, -math.inf, 1e300, -1e16, 10**30, 39.5, True, False, None, "", "39",
    "☃ ünïcødé", "\u0000", "x" * 10_000, [], [1, 2], {}, {"a": {"b": [None]}},
]  # fmt: skip


def random_json(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(8 if depth < 4 else 5)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.choice([rng.randint(-(10**20), 10**20), rng.uniform(-1e6, 1e6), math.nan])
    if kind == 2:
        return "".join(chr(rng.randrange(1, 0x2FFF)) for _ in range(rng.randrange(12)))
    if kind in (3, 4):
        return rng.choice(GARBAGE_VALUES)
    if kind == 5:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ["data", "jsonData", "names", "ndarray", "instances", "age", "meta", "x"]
    return {rng.choice(keys): random_json(rng, depth + 1) for _ in range(rng.randrange(4))}


def malformed_requests(
    names: list[str], row: list[Any], rng: random.Random
) -> list[tuple[str, bytes, dict[str, str]]]:
    """At least 200 (description, body, headers) that must all be refused with a 4xx."""
    record = dict(zip(names, row, strict=True))
    valid = json.dumps({"data": {"names": names, "ndarray": [row]}}).encode()
    cases: list[tuple[str, bytes, dict[str, str]]] = []

    def add(description: str, body: Any, headers: dict[str, str] | None = None) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body, allow_nan=True).encode()
        cases.append((description, raw, JSON_HEADERS if headers is None else headers))

    for i in range(40):
        add(f"random bytes {i}", bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))))
    for i in range(20):
        add(f"truncated valid body {i}", valid[: rng.randrange(len(valid))])
    for i in range(40):
        add(f"random JSON {i}", random_json(rng))
    for _ in range(40):
        bad = list(row)
        column = rng.randrange(len(names))
        value = rng.choice([v for v in GARBAGE_VALUES if not isinstance(v, str)])
        if value is None and names[column] in ("workclass", "occupation", "native-country"):
            value = math.nan  # null is legitimately accepted in the optional columns
        bad[column] = value
        form = rng.choice(["data", "record", "instances"])
        if form == "data":
            add(
                f"bad value {value!r} in {names[column]}",
                {"data": {"names": names, "ndarray": [row, bad]}},
            )
        else:
            bad_record = dict(zip(names, bad, strict=True))
            json_data = bad_record if form == "record" else {"instances": [record, bad_record]}
            add(f"bad value {value!r} in {names[column]} ({form})", {"jsonData": json_data})
    for i in range(20):
        shuffled = list(names)
        rng.shuffle(shuffled)
        cut = shuffled[: rng.randrange(len(names))] + rng.choice([[], ["extra"], [shuffled[0]]])
        add(f"wrong names {i}", {"data": {"names": cut, "ndarray": [row[: len(cut)]]}})
    for i in range(15):
        width = rng.choice([0, 1, len(names) - 1, len(names) + 1])
        add(
            f"wrong row width {width} ({i})",
            {"data": {"names": names, "ndarray": [row[:width] + [0] * max(0, width - len(row))]}},
        )
    for i in range(10):
        add(
            f"string value in numeric column {i}",
            {"jsonData": {**record, "age": rng.choice(["39", "NaN", "1e400", "☃"])}},
        )
    add("too many rows", {"data": {"names": names, "ndarray": [row] * (MAX_ROWS + 1)}})
    add("too many records", {"jsonData": [record] * (MAX_ROWS + 1)})
    add("deep nesting", b"[" * 50_000 + b"]" * 50_000)
    add("deep nesting in data", b'{"data": ' + b"[" * 900 + b"]" * 900 + b"}")
    add("huge integer text", b'{"jsonData": {"age": ' + b"9" * 5000 + b"}}")
    add("NaN literal", b'{"jsonData": NaN}')
    add("empty body", b"")
    add("null body", b"null")
    add("invalid utf-8", b'{"jsonData": {"age": "\xff\xfe"}}')
    add("lone surrogate", b'{"jsonData": {"workclass": "\\ud800"}}')
    add("text/plain", valid, {"Content-Type": "text/plain"})
    add("no content type", valid, {})
    add(
        "form with garbage json field",
        b"json=%7Bnot",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    add(
        "form with null json field",
        b"json=null",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    add(
        "multipart garbage",
        b'--B\r\nContent-Disposition: form-data; name="data"\r\n\r\n{nope\r\n--B--\r\n',
        {"Content-Type": "multipart/form-data; boundary=B"},
    )
    return cases


def test_bad_input_sweep_never_answers_5xx(seldon_server, golden_rows, offline):
    names = list(golden_rows.columns)
    row = rows_of(golden_rows)[0]
    cases = malformed_requests(names, row, random.Random(0))
    assert len(cases) >= 200
    answers: list[tuple[str, int, str]] = []
    for description, body, headers in cases:
        response = requests.post(
            seldon_server.url(PREDICTIONS_PATH), data=body, headers=headers, timeout=30
        )
        answers.append((description, response.status_code, response.text[:300]))
    server_errors = [a for a in answers if a[1] >= 500]
    assert not server_errors, server_errors[:10]
    not_refused = [a for a in answers if not 400 <= a[1] < 500]
    assert not not_refused, not_refused[:10]
    assert all(json.loads(text)["status"]["info"] for _, _, text in answers if len(text) < 300)

    assert requests.get(seldon_server.url(READINESS_PATH), timeout=10).status_code == 200
    response = post(seldon_server, {"data": {"names": names, "ndarray": [row]}})
    assert response.status_code == 200
    assert response.json()["data"]["ndarray"][0][1] == pytest.approx(
        offline["probability"][0], abs=1e-6
    )


# -- in-process: the paths a healthy model and well-formed clients never take ---------------------


class FakeModel:
    def __init__(self, error: Exception | None = None) -> None:
        self.feature_names = ["age", "education"]
        self.error = error

    def predict(self, context, frame: pd.DataFrame) -> pd.DataFrame:
        if self.error is not None:
            raise self.error
        probability = frame["age"].to_numpy() / 100.0
        return pd.DataFrame(
            {"prediction": np.where(probability >= 0.5, "y", "n"), "probability": probability}
        )


class BrokenLog:
    def write(self, *args: Any, **fields: Any) -> None:
        raise OSError("disk full")


def in_process_server(model: Any, **parameters: Any) -> SeldonModelServer:
    server = SeldonModelServer(model_uri="models:/fake/3", **parameters)
    server._model = PyfuncPredictor(model)
    server._features = [FeatureSpec("age", "long"), FeatureSpec("education", "string")]
    server._state = "ready"
    return server


def test_constructor_takes_seldon_typed_parameters_and_names_from_the_uri() -> None:
    server = SeldonModelServer(model_uri="models:/adult/12", max_rows="7")
    assert (server.model_name, server.model_version, server.max_rows) == ("adult", "12", 7)
    assert SeldonModelServer(model_version=3).model_version == "3"
    with pytest.raises(ValueError, match="max_rows"):
        SeldonModelServer(max_rows="lots")


def test_health_is_503_before_load_is_called() -> None:
    with pytest.raises(SeldonMicroserviceException) as caught:
        SeldonModelServer(model_uri="models:/fake/1").health_status_raw()
    assert caught.value.status_code == 503 and caught.value.reason == "MODEL_NOT_READY"


def test_a_failing_model_is_a_clear_json_500_not_a_crash() -> None:
    server = in_process_server(FakeModel(RuntimeError("boom")))
    with pytest.raises(SeldonMicroserviceException) as caught:
        server.predict_raw({"jsonData": {"age": 39, "education": "x"}})
    assert caught.value.status_code == 500
    assert caught.value.reason == "MICROSERVICE_INTERNAL_ERROR"
    assert "RuntimeError: boom" in caught.value.to_dict()["status"]["info"]


def test_a_broken_request_log_never_fails_a_request() -> None:
    server = in_process_server(FakeModel())
    server._request_log = BrokenLog()  # type: ignore[assignment]
    answer = server.predict_raw({"jsonData": [{"age": 60, "education": "x"}]})
    assert answer["jsonData"] == {"predictions": ["y"], "probabilities": [0.6]}
    with pytest.raises(SeldonMicroserviceException) as caught:
        server.predict_raw({"jsonData": [{"age": "60", "education": "x"}]})
    assert caught.value.status_code == 400


def test_raw_bodies_with_payload_passthrough(monkeypatch) -> None:
    monkeypatch.setenv("PAYLOAD_PASSTHROUGH", "true")
    server = in_process_server(FakeModel())
    body = b'{"data": {"names": ["education", "age"], "ndarray": [["x", 20]]}}'
    answer = json.loads(server.predict_raw(body))
    assert answer["data"]["ndarray"] == [["n", 0.2]]
    with pytest.raises(SeldonMicroserviceException) as caught:
        server.predict_raw("{nope")
    assert caught.value.status_code == 400 and "not valid JSON" in caught.value.message


def test_grpc_messages_are_answered_in_kind() -> None:
    from seldon_core.utils import json_to_seldon_message, seldon_message_to_json

    server = in_process_server(FakeModel())
    request = json_to_seldon_message(
        {"data": {"names": ["age", "education"], "ndarray": [[70, "x"]]}}
    )
    answer = seldon_message_to_json(server.predict_raw(request))
    assert answer["data"]["ndarray"] == [["y", 0.7]]
    assert answer["meta"]["tags"]["model_version"] == "3"


def test_the_onnx_path_imports_no_torch_scikit_learn_pandas_or_mlflow(
    registered_model, golden_rows, tmp_path
) -> None:
    """What the lean serving image lacks is never imported: load and answer in a new process."""
    import subprocess
    import sys

    import mlflow.artifacts
    from mlflow import MlflowClient

    uri = registered_model.tracking_uri
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    folder = mlflow.artifacts.download_artifacts(
        artifact_uri=client.get_model_version_download_uri(
            registered_model.name, registered_model.version
        ),
        dst_path=str(tmp_path),
        tracking_uri=uri,
    )
    record = {k: (None if v != v else v) for k, v in golden_rows.iloc[0].to_dict().items()}
    probe = (
        "import json, sys\n"
        "from mlcicd.serving.server.model_server import SeldonModelServer\n"
        f"server = SeldonModelServer(model_uri={folder!r}, model_name='m', model_version='1')\n"
        "server.load_model()\n"
        f"answer = server.predict_raw({{'jsonData': {json.dumps(record)}}})\n"
        "heavy = ('torch', 'sklearn', 'pandas', 'mlflow', 'scipy')\n"
        "print(json.dumps({'runtime': answer['meta']['tags']['runtime'],\n"
        "    'imported': sorted(m for m in heavy if m in sys.modules)}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.splitlines()[-1]) == {"runtime": "onnx", "imported": []}
