import math

import numpy as np
import pandas as pd
import pytest

from mlcicd.serving.server.request_parsing import (
    FeatureSpec,
    RequestError,
    build_frame,
    coerce_value,
    decode_json_body,
    parse_prediction_request,
)

FEATURES = [
    FeatureSpec("age", "long"),
    FeatureSpec("workclass", "string", required=False),
    FeatureSpec("education", "string"),
    FeatureSpec("hours", "double"),
    FeatureSpec("gain", "long", required=False),
    FeatureSpec("ratio", "float", required=False),
    FeatureSpec("small", "integer", required=False),
    FeatureSpec("married", "boolean", required=False),
]
NAMES = [spec.name for spec in FEATURES]
ROW = [39, "State-gov", "Bachelors", 40.5, 2174, 0.25, 7, True]
RECORD = dict(zip(NAMES, ROW, strict=True))


def data_request(rows, names=None):
    return {"data": {"names": NAMES if names is None else names, "ndarray": rows}}


def parse(payload, max_rows=100):
    return parse_prediction_request(payload, FEATURES, max_rows)


def refused(payload, *fragments, status=400, max_rows=100):
    with pytest.raises(RequestError) as caught:
        parse(payload, max_rows=max_rows)
    assert caught.value.status_code == status, caught.value.message
    for fragment in fragments:
        assert fragment in caught.value.message, caught.value.message
    return caught.value.message


# -- valid requests ----------------------------------------------------------------------------


def test_data_form_builds_a_frame_in_model_order_with_model_dtypes() -> None:
    shuffled = list(reversed(NAMES))
    parsed = parse(data_request([list(reversed(ROW)), list(reversed(ROW))], names=shuffled))
    assert parsed.form == "data"
    assert list(parsed.frame(FEATURES).columns) == NAMES
    assert len(parsed.frame(FEATURES)) == 2
    assert parsed.frame(FEATURES)["age"].dtype == np.int64
    assert parsed.frame(FEATURES)["gain"].dtype == np.int64
    assert parsed.frame(FEATURES)["hours"].dtype == np.float64
    assert parsed.frame(FEATURES)["workclass"].dtype == object
    assert parsed.frame(FEATURES)["married"].dtype == bool
    assert parsed.records[0] == RECORD


def test_json_data_single_record_list_and_instances_forms_agree() -> None:
    single = parse({"jsonData": RECORD})
    listed = parse({"jsonData": [RECORD, RECORD]})
    instances = parse({"jsonData": {"instances": [RECORD]}})
    assert single.form == listed.form == instances.form == "jsonData"
    assert (
        len(single.frame(FEATURES)) == 1
        and len(listed.frame(FEATURES)) == 2
        and len(instances.frame(FEATURES)) == 1
    )
    pd.testing.assert_frame_equal(single.frame(FEATURES), instances.frame(FEATURES))
    pd.testing.assert_frame_equal(
        single.frame(FEATURES), parse(data_request([ROW])).frame(FEATURES)
    )


def test_nulls_in_optional_columns_become_missing_values() -> None:
    record = {**RECORD, "workclass": None, "gain": None, "ratio": None, "married": None}
    frame = parse({"jsonData": record}).frame(FEATURES)
    assert frame.loc[0, "workclass"] is None
    assert frame["gain"].dtype == np.float64 and math.isnan(frame.loc[0, "gain"])
    assert math.isnan(frame.loc[0, "ratio"])
    assert frame["married"].dtype == object and frame.loc[0, "married"] is None


def test_ints_are_accepted_for_double_and_integral_floats_for_long() -> None:
    record = {**RECORD, "hours": 40, "age": 39.0, "gain": -3.0}
    parsed = parse({"jsonData": record})
    assert parsed.records[0]["hours"] == 40.0 and isinstance(parsed.records[0]["hours"], float)
    assert parsed.records[0]["age"] == 39 and isinstance(parsed.records[0]["age"], int)
    assert parsed.frame(FEATURES).loc[0, "gain"] == -3


def test_exactly_max_rows_is_accepted() -> None:
    assert len(parse(data_request([ROW] * 3), max_rows=3).frame(FEATURES)) == 3


def test_unicode_strings_are_values_like_any_other() -> None:
    parsed = parse({"jsonData": {**RECORD, "workclass": "Ünïcødé ☃ \u0000"}})
    assert parsed.frame(FEATURES).loc[0, "workclass"] == "Ünïcødé ☃ \u0000"


# -- request shape -----------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [[ROW], "text", 3, None, True])
def test_body_must_be_a_json_object(payload) -> None:
    refused(payload, "must be a JSON object")


def test_neither_data_nor_json_data() -> None:
    refused({"strData": "x", "meta": {}}, "'data'", "'jsonData'", "'strData'")


def test_both_data_and_json_data() -> None:
    refused({**data_request([ROW]), "jsonData": RECORD}, "both")


@pytest.mark.parametrize("data", [[ROW], "x", None])
def test_data_must_be_an_object(data) -> None:
    refused({"data": data}, "'data' must be an object")


def test_data_without_ndarray() -> None:
    refused({"data": {"names": NAMES}}, "no 'ndarray'")
    refused({"data": {"names": NAMES, "tensor": {"shape": [1, 8]}}}, "tensor is not supported")


def test_data_without_names() -> None:
    refused({"data": {"ndarray": [ROW]}}, "no 'names'")


@pytest.mark.parametrize("names", ["age", [1, 2], [None], {"age": 1}])
def test_names_must_be_strings(names) -> None:
    refused(data_request([ROW], names=names), "data.names must be a list")


def test_missing_features_are_listed_by_name() -> None:
    names = [n for n in NAMES if n not in ("age", "hours")]
    row = [v for n, v in zip(NAMES, ROW, strict=True) if n not in ("age", "hours")]
    message = refused(data_request([row], names=names), "missing feature(s): ['age', 'hours']")
    assert "unknown" not in message


def test_unknown_features_are_listed_by_name() -> None:
    message = refused(
        data_request([[*ROW, 1, 2]], names=[*NAMES, "income", "zip"]),
        "unknown feature(s): ['income', 'zip']",
    )
    assert "missing" not in message


def test_duplicate_names_are_listed() -> None:
    refused(data_request([[*ROW, 40]], names=[*NAMES, "age"]), "duplicate feature(s): ['age']")


def test_missing_and_unknown_together_in_a_record() -> None:
    record = {k: v for k, v in RECORD.items() if k != "education"} | {"edu": "Bachelors"}
    refused(
        {"jsonData": [RECORD, record]},
        "jsonData record 1",
        "missing feature(s): ['education']",
        "unknown feature(s): ['edu']",
    )


def test_optional_features_must_still_be_sent_as_null() -> None:
    record = {k: v for k, v in RECORD.items() if k != "workclass"}
    refused({"jsonData": record}, "missing feature(s): ['workclass']")


@pytest.mark.parametrize(
    ("ndarray", "fragment"),
    [
        ("not rows", "2-D list of rows"),
        ({"0": ROW}, "2-D list of rows"),
        (ROW, "row 0 is a number"),
        ([ROW, "x"], "row 1 is a string"),
        ([ROW, ROW[:-1]], "row 1 has 7 values, expected 8"),
        ([[*ROW, 1]], "row 0 has 9 values, expected 8"),
    ],
)
def test_ndarray_must_be_rows_of_len_names(ndarray, fragment) -> None:
    refused(data_request(ndarray), fragment)


@pytest.mark.parametrize(
    "payload",
    [
        {"data": {"names": NAMES, "ndarray": []}},
        {"jsonData": []},
        {"jsonData": {"instances": []}},
    ],
)
def test_empty_payload(payload) -> None:
    refused(payload, "empty payload")


@pytest.mark.parametrize(
    "payload",
    [
        data_request([ROW] * 4),
        {"jsonData": [RECORD] * 4},
        {"jsonData": {"instances": [RECORD] * 4}},
    ],
)
def test_more_than_max_rows_is_413(payload) -> None:
    refused(payload, "too many rows: 4", "at most 3", status=413, max_rows=3)


@pytest.mark.parametrize(
    ("json_data", "fragment"),
    [
        ("text", "jsonData must be a record object"),
        (5, "jsonData must be a record object"),
        ([RECORD, [1, 2]], "jsonData record 1 must be an object"),
        ({"instances": RECORD}, "jsonData.instances must be a list"),
        ({"instances": [RECORD], "extra": 1}, "no other keys"),
    ],
)
def test_json_data_shapes(json_data, fragment) -> None:
    refused({"jsonData": json_data}, fragment)


# -- values ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "fragment"),
    [
        ("age", "39", "expected a number (long), got a string '39'"),
        ("age", 39.5, "expected an integer (long), got 39.5"),
        ("age", True, "expected a number (long), got a boolean"),
        ("hours", False, "expected a number (double), got a boolean"),
        ("age", [39], "expected a long value, got a list"),
        ("hours", {"v": 1}, "expected a double value, got an object"),
        ("workclass", 3, "expected a string, got a number 3"),
        ("workclass", True, "expected a string, got a boolean"),
        ("education", ["a"], "got a list"),
        ("married", 1, "expected a boolean, got a number"),
        ("married", "yes", "expected a boolean, got a string"),
        ("small", 2**31, "does not fit a 32-bit integer"),
    ],
)
def test_wrong_types_name_column_and_row(column, value, fragment) -> None:
    rows = [ROW, [value if n == column else v for n, v in zip(NAMES, ROW, strict=True)]]
    refused(data_request(rows), f"row 1, column '{column}'", fragment)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("column", ["age", "hours", "gain", "ratio"])
def test_nan_and_infinity_are_refused_in_numeric_columns(column, value) -> None:
    refused({"jsonData": {**RECORD, column: value}}, f"column '{column}'", "NaN/Infinity")


@pytest.mark.parametrize("value", [1e16, -2e15, 10**16, 10**400, 1e300])
@pytest.mark.parametrize("column", ["age", "hours"])
def test_huge_numbers_are_refused(column, value) -> None:
    refused({"jsonData": {**RECORD, column: value}}, f"column '{column}'", "number too large")


def test_bounds_are_inclusive() -> None:
    parsed = parse({"jsonData": {**RECORD, "age": 10**15, "hours": -1e15}})
    assert parsed.records[0]["age"] == 10**15 and parsed.records[0]["hours"] == -1e15


@pytest.mark.parametrize("column", ["age", "education", "hours"])
def test_null_in_required_column(column) -> None:
    refused({"jsonData": {**RECORD, column: None}}, f"column '{column}'", "null in required column")


def test_several_bad_values_are_reported_together_and_capped() -> None:
    rows = [[*ROW[:3], "x", *ROW[4:]] for _ in range(30)]
    message = refused(data_request(rows), "row 0, column 'hours'", "row 9, column 'hours'")
    assert "row 10," not in message and "(and more)" in message


def test_coerce_value_for_other_signature_types_accepts_strings_only() -> None:
    spec = FeatureSpec("when", "datetime")
    assert coerce_value("2024-01-01", spec) == "2024-01-01"
    with pytest.raises(RequestError, match="expected a string"):
        coerce_value(3, spec)


def test_build_frame_is_empty_safe_and_typed() -> None:
    frame = build_frame([RECORD], FEATURES)
    assert list(frame.columns) == NAMES and frame["small"].dtype == np.int64


# -- raw bodies (seldon PAYLOAD_PASSTHROUGH) ----------------------------------------------------


def test_decode_json_body() -> None:
    assert decode_json_body(b'{"jsonData": {"a": 1}}') == {"jsonData": {"a": 1}}
    with pytest.raises(RequestError, match="not valid JSON") as caught:
        decode_json_body(b"{not json")
    assert caught.value.status_code == 400
    with pytest.raises(RequestError, match="not UTF-8"):
        decode_json_body(b"\xff\xfe\xfa")
    with pytest.raises(RequestError, match="nested too deeply"):
        decode_json_body("[" * 100_000 + "]" * 100_000)
    with pytest.raises(RequestError, match="not valid JSON"):
        decode_json_body("1" * 5000)
