"""Parsing and validation of prediction requests for the Seldon model server.

Pure functions (no Flask, no seldon-core, no MLflow, no pandas on the request path) so every rule
is unit-testable with hand-made payloads. Every bad request is refused here, before the model
sees it, with a 4xx status and a message that names the offending feature, row or value: a
client must never be able to turn malformed input into a 5xx or into a silently wrong
prediction. Validation works column by column: a column whose values are all of the declared
kind is checked with numpy in one pass, and only a column that fails that check is walked value
by value, to name the first bad values exactly.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

MAX_ABS_NUMBER = 1e15
MAX_REPORTED_ERRORS = 10
INTEGER_TYPES = frozenset({"long", "integer"})
FLOAT_TYPES = frozenset({"double", "float"})
NUMERIC_TYPES = INTEGER_TYPES | FLOAT_TYPES
INT32_LIMIT = 2**31

RequestForm = Literal["data", "jsonData"]


class RequestError(Exception):
    """A request the server refuses; `status_code` is the HTTP status to answer with."""

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


@dataclass(frozen=True)
class FeatureSpec:
    """One input column as the MLflow signature declares it (type is MLflow's type name)."""

    name: str
    type: str
    required: bool = True


@dataclass(frozen=True)
class ParsedRequest:
    """A validated request: one list of clean values per feature, in the model's order."""

    form: RequestForm
    columns: dict[str, list[Any]]
    rows: int

    @property
    def records(self) -> list[dict[str, Any]]:
        """The rows as records, what the request log keeps (built off the request path)."""
        names = list(self.columns)
        rows = zip(*self.columns.values(), strict=True)
        return [dict(zip(names, values, strict=True)) for values in rows]

    def frame(self, features: Sequence[FeatureSpec]) -> pd.DataFrame:
        """The rows as the pyfunc model's input frame (see `build_frame`)."""
        return build_frame_from_columns(self.columns, self.rows, features)


def decode_json_body(body: bytes | str) -> Any:
    """JSON from raw request bytes (seldon's PAYLOAD_PASSTHROUGH mode), refusing garbage as 400."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        return json.loads(text)
    except UnicodeDecodeError as error:
        raise RequestError(f"request body is not UTF-8 text: {error}") from None
    except RecursionError:
        raise RequestError("request body JSON is nested too deeply") from None
    except ValueError as error:
        raise RequestError(f"request body is not valid JSON: {error}") from None


def parse_prediction_request(
    payload: Any, features: Sequence[FeatureSpec], max_rows: int
) -> ParsedRequest:
    """Validate a Seldon `data` (names + ndarray) or `jsonData` (records) request."""
    if not isinstance(payload, Mapping):
        raise RequestError(
            "request body must be a JSON object with 'data' or 'jsonData', "
            f"got {_json_type(payload)}"
        )
    has_data, has_json = "data" in payload, "jsonData" in payload
    if has_data and has_json:
        raise RequestError("request has both 'data' and 'jsonData'; send exactly one")
    if has_data:
        records = _records_from_data(payload["data"], features, max_rows)
        form: RequestForm = "data"
    elif has_json:
        records = _records_from_json_data(payload["jsonData"], features, max_rows)
        form = "jsonData"
    else:
        keys = ", ".join(repr(str(k)) for k in list(payload)[:10]) or "none"
        raise RequestError(
            "request must contain 'data' (names + ndarray) or 'jsonData' (records); "
            f"got keys: {keys}"
        )
    columns = _validated_columns(records, features)
    return ParsedRequest(form=form, columns=columns, rows=len(records))


def build_frame(
    records: Sequence[Mapping[str, Any]], features: Sequence[FeatureSpec]
) -> pd.DataFrame:
    """Model input in the model's column order; strings as object with None for missing."""
    columns = {spec.name: [record[spec.name] for record in records] for spec in features}
    return build_frame_from_columns(columns, len(records), features)


def build_frame_from_columns(
    columns: Mapping[str, list[Any]], rows: int, features: Sequence[FeatureSpec]
) -> pd.DataFrame:
    """The pyfunc's input frame from clean columns (pandas is imported only for the pyfunc).

    Integer columns stay int64 (what the model was trained on) unless a null forces float64.
    """
    import pandas as pd

    frame: dict[str, Any] = {}
    for spec in features:
        values = columns[spec.name]
        has_null = any(v is None for v in values)
        if spec.type in INTEGER_TYPES and not has_null:
            frame[spec.name] = np.asarray(values, dtype=np.int64)
        elif spec.type in NUMERIC_TYPES:
            frame[spec.name] = np.asarray(
                [math.nan if v is None else v for v in values], dtype=np.float64
            )
        elif spec.type == "boolean" and not has_null:
            frame[spec.name] = np.asarray(values, dtype=bool)
        else:
            frame[spec.name] = pd.Series(values, dtype=object)
    return pd.DataFrame(frame, index=pd.RangeIndex(rows))


def _records_from_data(
    data: Any, features: Sequence[FeatureSpec], max_rows: int
) -> list[dict[str, Any]]:
    if not isinstance(data, Mapping):
        raise RequestError(
            f"'data' must be an object with 'names' and 'ndarray', got {_json_type(data)}"
        )
    if "ndarray" not in data:
        other = [k for k in ("tensor", "tftensor") if k in data]
        hint = f" ({other[0]} is not supported)" if other else ""
        raise RequestError(f"'data' has no 'ndarray'{hint}; send data.names and data.ndarray")
    if "names" not in data:
        raise RequestError("'data' has no 'names'; data.names must list the feature names")
    names = data["names"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise RequestError("data.names must be a list of feature name strings")
    _check_names(names, features, where="data.names")
    rows = data["ndarray"]
    if not isinstance(rows, list):
        raise RequestError(f"data.ndarray must be a 2-D list of rows, got {_json_type(rows)}")
    _check_row_count(len(rows), max_rows)
    records = []
    for index, row in enumerate(rows):
        if not isinstance(row, list):
            raise RequestError(
                f"data.ndarray must be a 2-D list of rows; row {index} is {_json_type(row)}"
            )
        if len(row) != len(names):
            raise RequestError(
                f"data.ndarray row {index} has {len(row)} values, expected {len(names)} "
                "(one per name in data.names)"
            )
        records.append(dict(zip(names, row, strict=True)))
    return records


def _records_from_json_data(
    json_data: Any, features: Sequence[FeatureSpec], max_rows: int
) -> list[dict[str, Any]]:
    if isinstance(json_data, Mapping) and "instances" in json_data:
        extra = [str(k) for k in json_data if k != "instances"]
        if extra:
            raise RequestError(f"jsonData with 'instances' must have no other keys, got {extra}")
        rows = json_data["instances"]
        if not isinstance(rows, list):
            raise RequestError(
                f"jsonData.instances must be a list of records, got {_json_type(rows)}"
            )
    elif isinstance(json_data, Mapping):
        rows = [json_data]
    elif isinstance(json_data, list):
        rows = json_data
    else:
        raise RequestError(
            "jsonData must be a record object, a list of records or {'instances': [records]}, "
            f"got {_json_type(json_data)}"
        )
    _check_row_count(len(rows), max_rows)
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise RequestError(f"jsonData record {index} must be an object, got {_json_type(row)}")
        _check_names(list(row), features, where=f"jsonData record {index}")
    return [dict(row) for row in rows]


def _check_row_count(rows: int, max_rows: int) -> None:
    if rows == 0:
        raise RequestError("empty payload: the request has no rows to predict")
    if rows > max_rows:
        raise RequestError(
            f"too many rows: {rows} in one request, at most {max_rows} are accepted", 413
        )


def _check_names(names: list[str], features: Sequence[FeatureSpec], where: str) -> None:
    expected = [spec.name for spec in features]
    known = set(expected)
    problems = []
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicates:
        problems.append(f"duplicate feature(s): {duplicates}")
    given = set(names)
    missing = [name for name in expected if name not in given]
    if missing:
        problems.append(f"missing feature(s): {missing}")
    unknown = [name for name in dict.fromkeys(names) if name not in known]
    if unknown:
        shown = [_clip(str(name)) for name in unknown[:20]]
        more = f" and {len(unknown) - 20} more" if len(unknown) > 20 else ""
        problems.append(f"unknown feature(s): {shown}{more}")
    if problems:
        raise RequestError(
            f"feature names in {where} do not match the model's features: " + "; ".join(problems)
        )


def _validated_columns(
    records: list[dict[str, Any]], features: Sequence[FeatureSpec]
) -> dict[str, list[Any]]:
    """Clean columns; errors in row order (then feature order), at most MAX_REPORTED_ERRORS."""
    columns: dict[str, list[Any]] = {}
    errors: list[tuple[int, int, str]] = []
    for position, spec in enumerate(features):
        values = [record[spec.name] for record in records]
        clean = _clean_column(values, spec)
        if clean is None:  # some value is not already clean: walk them to coerce or name them
            clean = []
            for index, value in enumerate(values):
                try:
                    clean.append(coerce_value(value, spec))
                except RequestError as error:
                    clean.append(None)
                    message = f"row {index}, column '{spec.name}': {error.message}"
                    errors.append((index, position, message))
        columns[spec.name] = clean
    if errors:
        errors.sort()
        shown = [message for _, _, message in errors[:MAX_REPORTED_ERRORS]]
        more = " (and more)" if len(errors) > MAX_REPORTED_ERRORS else ""
        raise RequestError("invalid value(s): " + "; ".join(shown) + more)
    return columns


def _clean_column(values: list[Any], spec: FeatureSpec) -> list[Any] | None:
    """`values` as coerce_value would return them when every one is valid, else None.

    One pass over the value types, then numpy for the numeric rules; None sends the column to
    the value-by-value path, which coerces what it can and names what it cannot.
    """
    kinds = set(map(type, values))
    if type(None) in kinds:
        if spec.required:
            return None
        kinds.discard(type(None))
        present = [v for v in values if v is not None]
    else:
        present = values
    if spec.type in NUMERIC_TYPES:
        if not kinds <= ({int} if spec.type in INTEGER_TYPES else {int, float}):
            return None
        if not present:
            return values
        try:
            numbers = np.asarray(present, dtype=np.float64)
        except (OverflowError, ValueError):
            return None
        if not (np.isfinite(numbers).all() and np.abs(numbers).max() <= MAX_ABS_NUMBER):
            return None
        if spec.type == "integer" and not (
            numbers.min() >= -INT32_LIMIT and numbers.max() < INT32_LIMIT
        ):
            return None
        if spec.type in FLOAT_TYPES and int in kinds:
            return [None if v is None else float(v) for v in values]
        return values
    if spec.type == "boolean":
        return values if kinds <= {bool} else None
    return values if kinds <= {str} else None


def coerce_value(value: Any, spec: FeatureSpec) -> Any:
    """One value checked against its column's signature type; the message omits the location."""
    if value is None:
        if spec.required:
            raise RequestError(f"null in required column (expected {spec.type})")
        return None
    if isinstance(value, (list, dict)):
        raise RequestError(f"expected a {spec.type} value, got {_json_type(value)}")
    if spec.type in NUMERIC_TYPES:
        return _coerce_number(value, spec.type)
    if spec.type == "boolean":
        if not isinstance(value, bool):
            raise RequestError(f"expected a boolean, got {_describe(value)}")
        return value
    if not isinstance(value, str):
        raise RequestError(f"expected a string, got {_describe(value)}")
    return value


def _coerce_number(value: Any, type_name: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RequestError(f"expected a number ({type_name}), got {_describe(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise RequestError(f"NaN/Infinity is not a valid {type_name} value")
    if abs(value) > MAX_ABS_NUMBER:
        raise RequestError(f"number too large: {_describe(value)} (|x| must be <= 1e15)")
    if type_name in FLOAT_TYPES:
        return float(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise RequestError(f"expected an integer ({type_name}), got {value!r}")
        value = int(value)
    if type_name == "integer" and not -INT32_LIMIT <= value < INT32_LIMIT:
        raise RequestError(f"{value} does not fit a 32-bit integer column")
    return int(value)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _describe(value: Any) -> str:
    return f"{_json_type(value)} {_short(value)}"


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _short(value: Any, limit: int = 40) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int too long for repr (sys.set_int_max_str_digits)
        return "<a number with thousands of digits>"
    return _clip(text, limit)
