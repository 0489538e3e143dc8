import gzip
from pathlib import Path

import pandas as pd
import pytest

from mlcicd.config import load_config
from mlcicd.data.loading import (
    binary_target,
    data_fingerprint,
    feature_columns,
    load_datasets,
    read_table,
)
from mlcicd.errors import PipelineInputError


def test_adult_quirks_are_handled(adult_frames) -> None:
    train, golden = adult_frames
    assert (len(train), len(golden)) == (32561, 16281)  # data/adult/README.md
    assert set(train["income"]) == {"<=50K", ">50K"}
    assert set(golden["income"]) == {"<=50K", ">50K"}  # trailing '.' stripped by label_aliases
    assert int(train["workclass"].isna().sum()) == 1836
    assert int(golden["native-country"].isna().sum()) == 274
    assert int((train["income"] == ">50K").sum()) == 7841
    assert train["age"].dtype == "int64"
    assert train["sex"].dtype == object


def test_features_exclude_label_and_excluded_columns() -> None:
    config, schema = load_config("local")
    features = feature_columns(config.data, schema)
    assert "income" not in features and "fnlwgt" not in features
    assert "age" in features and "sex" in features


def test_binary_target_uses_configured_positive_class(adult_frames) -> None:
    config, _ = load_config("local")
    assert int(binary_target(adult_frames[1], config.data).sum()) == 3846


def test_fingerprint_is_content_based(tmp_path: Path, write_config, adult_sample_files) -> None:
    config, _ = load_config(str(write_config(adult_sample_files())))
    first = data_fingerprint(config.data)
    assert first == data_fingerprint(config.data)
    train_path = Path(config.data.train.path)
    train_path.write_text(train_path.read_text().replace("Male", "Female", 1))
    assert data_fingerprint(config.data) != first


def test_sampling_is_seeded_and_leaves_golden_whole(write_config) -> None:
    config, schema = load_config(str(write_config({"data": {"sample_rows": 500}})))
    train_a, golden = load_datasets(config.data, schema, seed=1)
    train_b, _ = load_datasets(config.data, schema, seed=1)
    assert len(train_a) == 500 and len(golden) == 16281
    pd.testing.assert_frame_equal(train_a, train_b)


def test_parquet_source(tmp_path: Path, write_config, adult_frames) -> None:
    adult_frames[0].head(200).to_parquet(tmp_path / "train.parquet")
    adult_frames[1].head(100).to_parquet(tmp_path / "golden.parquet")
    path = write_config(
        {
            "data": {
                "format": "parquet",
                "train": {"path": str(tmp_path / "train.parquet")},
                "golden": {"path": str(tmp_path / "golden.parquet"), "skip_rows": 0},
            }
        }
    )
    config, schema = load_config(str(path))
    train, golden = load_datasets(config.data, schema, seed=0)
    assert (len(train), len(golden)) == (200, 100)
    assert train["sex"].dtype == object


def test_missing_file_is_named(write_config) -> None:
    config, schema = load_config(str(write_config({"data": {"train": {"path": "/nope.csv"}}})))
    with pytest.raises(PipelineInputError, match="train data file not found: /nope.csv"):
        read_table(config.data.train, config.data, schema, "train")


def test_empty_and_garbage_files_are_named(tmp_path: Path, write_config) -> None:
    empty, garbage = tmp_path / "empty.csv", tmp_path / "garbage.csv"
    empty.write_bytes(b"")
    garbage.write_bytes(gzip.compress(b"\x00\xff" * 5000))
    for path, message in ((empty, "is empty"), (garbage, "cannot parse")):
        config, schema = load_config(str(write_config({"data": {"train": {"path": str(path)}}})))
        with pytest.raises(PipelineInputError, match=message):
            read_table(config.data.train, config.data, schema, "train")
