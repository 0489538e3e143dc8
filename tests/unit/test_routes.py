"""The router's pure parts: every route table rule, the file round trip, the picker, shadow parsing."""

from __future__ import annotations

import copy
import itertools
import json
from collections import Counter
from typing import Any

import pytest

from mlcicd.serving.router.control import write_routes
from mlcicd.serving.router.routes import (
    RoutesError,
    RouteTable,
    Variant,
    WeightedPicker,
    load_routes,
)
from mlcicd.serving.router.shadow import Side, probabilities, shadow_record


def raw_table(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "environment": "production",
        "generation": 7,
        "upstream_timeout_seconds": 10.0,
        "max_body_bytes": 16777216,
        "shadow_log": "/tmp/shadow.jsonl",
        "variants": [
            {"version": "3", "port": 41231, "role": "stable", "weight": 90},
            {"version": "4", "port": 41877, "role": "canary", "weight": 10},
            {"version": "2", "port": 40001, "role": "previous", "weight": 0},
            {"version": "5", "port": 40002, "role": "shadow", "weight": 0},
        ],
    }
    raw.update(changes)
    return raw


def with_variant(index: int, **changes: Any) -> dict[str, Any]:
    raw = raw_table()
    raw["variants"] = copy.deepcopy(raw["variants"])
    raw["variants"][index].update(changes)
    return raw


def test_the_documented_example_is_valid_and_round_trips():
    table = RouteTable.from_dict(raw_table())
    assert table.stable.version == "3"
    assert table.canary is not None and table.canary.version == "4"
    assert table.previous is not None and table.previous.version == "2"
    assert table.shadow is not None and table.shadow.version == "5"
    assert [v.version for v in table.weighted] == ["3", "4"]
    assert table.variant("4") == table.canary
    assert table.variant("9") is None
    assert table.stable.base_url == "http://127.0.0.1:41231"
    assert RouteTable.from_dict(table.to_dict()) == table
    assert table.to_dict() == raw_table()


def test_optional_fields_take_defaults():
    raw = raw_table()
    for key in ("upstream_timeout_seconds", "max_body_bytes", "shadow_log"):
        del raw[key]
    table = RouteTable.from_dict(raw)
    assert table.upstream_timeout_seconds == 10.0
    assert table.max_body_bytes == 16 * 1024 * 1024
    assert table.shadow_log is None


def test_an_int_version_is_read_as_a_string():
    table = RouteTable.from_dict(with_variant(0, version=3))
    assert table.stable.version == "3"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            with_variant(1, role="blue"),
            "role 'blue' is not one of stable, canary, shadow, previous",
        ),
        (with_variant(1, role="stable"), "exactly one stable variant is required, found 2"),
        (
            with_variant(0, role="canary", weight=90),
            "exactly one stable variant is required, found 0",
        ),
        (with_variant(2, role="canary"), "at most one canary variant is allowed, found 2"),
        (with_variant(2, role="shadow"), "at most one shadow variant is allowed, found 2"),
        (with_variant(1, version="3"), "variant versions must be unique, duplicated: 3"),
        (with_variant(1, port=41231), "variant ports must be unique, duplicated: 41231"),
        (with_variant(1, weight=10.0), "weight must be an integer in 0..100, got 10.0"),
        (with_variant(1, weight=True), "weight must be an integer in 0..100, got True"),
        (with_variant(1, weight=-1), "weight must be an integer in 0..100, got -1"),
        (with_variant(0, weight=101), "weight must be an integer in 0..100, got 101"),
        (with_variant(1, weight=20), "must sum to 100, got 110 (3=90, 4=20, 2=0)"),
        (
            with_variant(3, weight=5),
            "a shadow variant takes no client traffic, its weight must be 0",
        ),
        (
            with_variant(2, weight=5),
            "a previous variant takes no client traffic, its weight must be 0",
        ),
        (with_variant(1, port=0), "port must be an integer in 1..65535, got 0"),
        (with_variant(1, port=65536), "port must be an integer in 1..65535, got 65536"),
        (with_variant(1, port="41877"), "port must be an integer in 1..65535, got '41877'"),
        (with_variant(1, version=""), "variant version must be a non-empty string"),
        (with_variant(1, host="10.0.0.1"), "has unknown keys host"),
        (raw_table(variants=[]), "variants must list at least the stable variant"),
        (raw_table(variants="3"), "variants must be a JSON list"),
        (raw_table(environment=""), "environment must be a non-empty string"),
        (raw_table(generation=-1), "generation must be a non-negative integer"),
        (
            raw_table(upstream_timeout_seconds=0),
            "upstream_timeout_seconds must be a positive number",
        ),
        (raw_table(upstream_timeout_seconds=float("nan")), "must be a positive number"),
        (raw_table(max_body_bytes=0), "max_body_bytes must be a positive integer"),
        (raw_table(shadow_log="relative.jsonl"), "shadow_log must be an absolute path or null"),
        (raw_table(weights=[1]), "the routes have unknown keys weights"),
    ],
)
def test_each_rule_is_refused_with_a_message_naming_it(raw, message):
    with pytest.raises(RoutesError) as caught:
        RouteTable.from_dict(raw)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)  # callers may catch ValueError


def test_missing_keys_are_named():
    raw = raw_table()
    del raw["generation"]
    with pytest.raises(RoutesError, match="the routes are missing generation"):
        RouteTable.from_dict(raw)
    raw = with_variant(1)
    del raw["variants"][1]["weight"]
    with pytest.raises(RoutesError, match="is missing weight"):
        RouteTable.from_dict(raw)


def test_stable_alone_at_100_is_valid_and_shadow_weight_does_not_count():
    table = RouteTable(
        environment="staging",
        generation=0,
        variants=(
            Variant("1", 9000, "stable", 100),
            Variant("2", 9001, "shadow", 0),
        ),
    )
    assert table.weighted == (table.stable,)


def test_a_canary_may_take_all_traffic_with_stable_at_zero():
    raw = with_variant(0, weight=0)
    raw["variants"][1]["weight"] = 100
    flipped = RouteTable.from_dict(raw)
    assert [v.version for v in flipped.weighted] == ["4"]


def test_load_routes_names_the_file(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(RoutesError, match=f"cannot read the routes file {missing}"):
        load_routes(missing)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(RoutesError, match="is not valid JSON"):
        load_routes(broken)
    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps(with_variant(1, weight=20)))
    with pytest.raises(RoutesError, match=f"the routes file {invalid} is invalid: weights"):
        load_routes(invalid)


def test_write_routes_is_atomic_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "routes" / "production.json"
    table = RouteTable.from_dict(raw_table())
    write_routes(path, table)
    assert load_routes(path) == table
    newer = RouteTable.from_dict(raw_table(generation=8))
    write_routes(path, newer)
    assert load_routes(path).generation == 8
    assert [p.name for p in path.parent.iterdir()] == ["production.json"]


def picks(weights: list[int], count: int) -> list[str]:
    variants = [Variant(str(i), 9000 + i, "canary", w) for i, w in enumerate(weights)]
    picker = WeightedPicker(variants)
    return [picker.pick().version for _ in range(count)]


@pytest.mark.parametrize("weights", [[90, 10], [50, 50], [99, 1], [1, 99], [33, 67], [100, 0]])
def test_every_window_of_100_picks_is_exact(weights):
    sequence = picks(weights, 400)
    expected = {str(i): w for i, w in enumerate(weights) if w}
    for start in range(0, 301):
        window = Counter(sequence[start : start + 100])
        assert dict(window) == expected, start


def test_the_canary_is_spread_out_not_bursty():
    sequence = picks([90, 10], 100)
    positions = [i for i, version in enumerate(sequence) if version == "1"]
    gaps = {b - a for a, b in itertools.pairwise(positions)}
    assert gaps == {10}


def test_the_picker_is_deterministic_and_skips_zero_weights():
    assert picks([90, 10], 50) == picks([90, 10], 50)
    table = RouteTable.from_dict(raw_table())
    picker = WeightedPicker.for_table(table)
    versions = Counter(picker.pick().version for _ in range(1000))
    assert versions == {"3": 900, "4": 100}  # previous and shadow never take client traffic


def test_a_picker_needs_a_positive_weight():
    with pytest.raises(RoutesError, match="no variant has a weight above 0"):
        WeightedPicker([Variant("1", 9000, "stable", 0)])


# -- the router's other pure part: reading probabilities for the shadow log ---------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b'{"jsonData": {"predictions": [">50K", "<=50K"], "probabilities": [0.7, 0.2]}}',
            [0.7, 0.2],
        ),
        (
            b'{"data": {"names": ["prediction", "probability"], "ndarray": [["<=50K", 0.3]]}, "meta": {}}',
            [0.3],
        ),
        (b'{"data": {"names": ["probability", "prediction"], "ndarray": [[0.4, "<=50K"]]}}', [0.4]),
        (b'{"jsonData": {"probabilities": [1]}}', [1.0]),
        (b'{"status": {"code": 500, "info": "boom"}}', None),
        (b'{"data": {"names": ["prediction"], "ndarray": [["<=50K"]]}}', None),
        (b'{"data": {"names": ["prediction", "probability"], "ndarray": [["<=50K"]]}}', None),
        (b'{"jsonData": {"probabilities": ["0.3"]}}', None),
        (b'{"jsonData": {"probabilities": [true]}}', None),
        (b'{"jsonData": {"probabilities": [NaN]}}', None),
        (b"not json", None),
        (b"\xff\xfe", None),
        (b"[0.3]", None),
    ],
)
def test_probabilities_are_read_from_both_answer_shapes(body, expected):
    assert probabilities(body) == expected


def test_a_shadow_record_names_both_sides_and_the_shadows_error():
    ok = b'{"jsonData": {"probabilities": [0.25]}}'
    record = shadow_record(
        Side("3", 200, 0.0012, ok), Side("5", None, 0.4, b"", "no answer within 0.4 s")
    )
    assert record["primary_version"] == "3" and record["shadow_version"] == "5"
    assert record["primary_status"] == 200 and record["shadow_status"] is None
    assert record["primary_ms"] == 1.2 and record["shadow_ms"] == 400.0
    assert record["primary_probabilities"] == [0.25] and record["shadow_probabilities"] is None
    assert record["error"] == "no answer within 0.4 s"
    assert record["timestamp"].endswith("+00:00")
    answered_500 = shadow_record(Side("3", 200, 0.001, ok), Side("5", 500, 0.001, ok))
    assert (
        answered_500["error"] == "shadow answered 500"
        and answered_500["shadow_probabilities"] is None
    )
    both_fine = shadow_record(Side("3", 200, 0.001, ok), Side("5", 200, 0.001, ok))
    assert "error" not in both_fine
