import math

import numpy as np
import pandas as pd
import pytest

from mlcicd.config import load_config
from mlcicd.data.loading import binary_target, feature_columns
from mlcicd.data.preprocessing import (
    MISSING_CATEGORY,
    fit_preprocessor,
    split_train_validation,
    transform,
)
from mlcicd.errors import PipelineInputError
from mlcicd.evaluation.metrics import classification_metrics


def test_split_is_stratified_and_seeded(adult_frames) -> None:
    config, _ = load_config("local")
    train, validation = split_train_validation(adult_frames[0], config.data, seed=1)
    again, _ = split_train_validation(adult_frames[0], config.data, seed=1)
    assert len(validation) == math.ceil(len(adult_frames[0]) * 0.2)  # scikit-learn rounds up
    rate = binary_target(adult_frames[0], config.data).mean()
    assert binary_target(validation, config.data).mean() == pytest.approx(rate, abs=0.002)
    pd.testing.assert_frame_equal(train, again)


def test_single_class_cannot_be_split(adult_frames) -> None:
    config, _ = load_config("local")
    one_class = adult_frames[0][adult_frames[0]["income"] == "<=50K"]
    with pytest.raises(PipelineInputError, match="single class"):
        split_train_validation(one_class, config.data, seed=0)


def test_preprocessor_uses_declared_categories(adult_frames) -> None:
    config, schema = load_config("local")
    features = feature_columns(config.data, schema)
    pre = fit_preprocessor(adult_frames[0].head(300), config.data, schema)
    names = list(pre.get_feature_names_out())
    # every declared category has a column even if the 300-row sample never saw it
    assert "categorical__native-country_Holand-Netherlands" in names
    assert f"categorical__workclass_{MISSING_CATEGORY}" in names
    row = adult_frames[1].head(1).copy()
    row["sex"] = "Unknown"
    encoded = transform(pre, row[features])
    sex_cols = [i for i, n in enumerate(names) if n.startswith("categorical__sex_")]
    assert encoded[0, sex_cols].sum() == 0.0  # unseen category encodes as zeros, no crash
    assert not np.isnan(transform(pre, adult_frames[1][features])).any()


def test_metrics_on_known_values() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.6, 0.4, 0.9])
    m = classification_metrics(y, p)
    assert m["accuracy"] == 0.5
    assert m["roc_auc"] == 0.75
    assert m["precision"] == 0.5 and m["recall"] == 0.5 and m["f1"] == 0.5
    expected_log_loss = -np.mean(np.log([0.9, 0.4, 0.4, 0.9]))
    assert m["log_loss"] == pytest.approx(expected_log_loss)


def test_metrics_refuse_single_class() -> None:
    with pytest.raises(ValueError, match="single class"):
        classification_metrics(np.array([1, 1]), np.array([0.2, 0.9]))


def test_parquet_round_trip_does_not_change_features(adult_frames, tmp_path) -> None:
    # Artifacts travel as Parquet, which turns object columns into pandas' `str` dtype with NaN.
    config, schema = load_config("local")
    features = feature_columns(config.data, schema)
    frame = adult_frames[0].head(3000)
    frame.to_parquet(tmp_path / "f.parquet")
    round_tripped = pd.read_parquet(tmp_path / "f.parquet")
    assert round_tripped["workclass"].dtype != object
    pre = fit_preprocessor(frame, config.data, schema)
    pre_rt = fit_preprocessor(round_tripped, config.data, schema)
    np.testing.assert_array_equal(
        transform(pre, frame[features]), transform(pre_rt, round_tripped[features])
    )
    np.testing.assert_array_equal(
        transform(pre, frame[features]), transform(pre, round_tripped[features])
    )
