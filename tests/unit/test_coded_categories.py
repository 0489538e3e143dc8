"""Categories written as numbers (0/1 labels, level codes) are read as their declared values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from mlcicd.config import ConfigError, load_config, load_schema
from mlcicd.data.expectations import validate_batches
from mlcicd.data.loading import binary_target, read_table

SCHEMA = {
    "name": "coded",
    "row_count": {"min": 10},
    "columns": [
        {"name": "age", "dtype": "integer", "min": 0, "max": 120},
        {"name": "level", "dtype": "categorical", "values": [0, 1, 2, 3], "nullable": True},
        {"name": "grade", "dtype": "categorical", "values": [1.5, "2.5"]},
        {"name": "churned", "dtype": "categorical", "values": [0, 1]},
    ],
}


def _frame(rows: int = 40) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [20 + i % 50 for i in range(rows)],
            "level": [None if i % 9 == 0 else i % 4 for i in range(rows)],
            "grade": [1.5 if i % 2 else 2.5 for i in range(rows)],
            "churned": [i % 2 for i in range(rows)],
        }
    )


def _config(tmp_path: Path, train: Path, fmt: str = "csv") -> Path:
    schema = tmp_path / "schema.yaml"
    schema.write_text(yaml.safe_dump(SCHEMA))
    raw: dict[str, Any] = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "configs" / "local.yaml").read_text()
    )
    raw["data"] = {
        "format": fmt,
        "train": {"path": str(train)},
        "golden": {"path": str(train)},
        "csv": {"header": True},
        "schema": str(schema),
        "label": "churned",
        "positive_class": 1,  # a number in YAML, like the data
        "sensitive_features": [],
    }
    path = tmp_path / "coded.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_integer_codes_and_labels_read_as_declared_categories(tmp_path: Path, fmt: str) -> None:
    frame = _frame()
    data_file = tmp_path / f"train.{fmt}"
    if fmt == "csv":
        frame.to_csv(data_file, index=False)  # level holds 0.0, 1.0 ... once a NaN is there
    else:
        frame.to_parquet(data_file)
    config, schema = load_config(str(_config(tmp_path, data_file, fmt)))
    assert config.data.positive_class == "1"
    assert schema.column("level").values == ["0", "1", "2", "3"]
    assert schema.column("grade").values == ["1.5", "2.5"]

    read = read_table(config.data.train, config.data, schema, "train")

    assert set(read["churned"]) == {"0", "1"}
    assert set(read["level"].dropna()) <= {"0", "1", "2", "3"}
    assert read["level"].isna().sum() == frame["level"].isna().sum()
    assert set(read["grade"]) == {"1.5", "2.5"}
    assert binary_target(read, config.data).sum() == frame["churned"].sum()
    result = validate_batches({"train": read}, schema, config.data.label)
    assert result.success, result.failure_message()


def test_a_code_outside_the_declared_set_is_named_by_the_data_gate(tmp_path: Path) -> None:
    frame = _frame()
    frame.loc[3, "level"] = 7
    data_file = tmp_path / "train.csv"
    frame.to_csv(data_file, index=False)
    config, schema = load_config(str(_config(tmp_path, data_file)))
    read = read_table(config.data.train, config.data, schema, "train")

    result = validate_batches({"train": read}, schema, config.data.label)

    assert not result.success
    [failure] = result.failures()
    # named as the file writes it (pandas wrote the integer column with a gap as floats)
    assert failure.column == "level"
    assert "1 unexpected value(s)" in failure.describe() and "'7.0'" in failure.describe()


def test_a_yaml_boolean_category_is_refused_with_the_fix(tmp_path: Path) -> None:
    broken = {**SCHEMA, "columns": [{"name": "flag", "dtype": "categorical", "values": [True]}]}
    path = tmp_path / "schema.yaml"
    path.write_text(yaml.safe_dump(broken))
    with pytest.raises(ConfigError, match="quote it"):
        load_schema(path)
