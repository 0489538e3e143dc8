from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest

from mlcicd.registry.versions import log_packaged_model


def test_pyfunc_round_trip_predicts_identically(packaged, adult_frames, tmp_path: Path) -> None:
    golden = adult_frames[1].head(50)
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        experiment = mlflow.create_experiment("pkg", artifact_location=str(tmp_path / "artifacts"))
        with mlflow.start_run(experiment_id=experiment):
            uri = log_packaged_model(packaged, golden)
        loaded = mlflow.pyfunc.load_model(uri)
    finally:
        mlflow.set_tracking_uri(previous)
    out = loaded.predict(golden[packaged.feature_names])
    assert list(out.columns) == ["prediction", "probability"]
    np.testing.assert_allclose(out["probability"], packaged.predict_proba(golden), rtol=0, atol=0)
    assert set(out["prediction"]) <= {">50K", "<=50K"}
    signature_inputs = loaded.metadata.get_input_schema().input_names()
    assert signature_inputs == packaged.feature_names


def test_missing_feature_is_named(packaged, adult_frames) -> None:
    frame = adult_frames[1].head(3).drop(columns=["age"])
    with pytest.raises(ValueError, match=r"missing feature column\(s\): \['age'\]"):
        packaged.predict(None, frame)


def test_predictions_follow_threshold(packaged, adult_frames) -> None:
    out = packaged.predict(None, adult_frames[1].head(200))
    expected = np.where(out["probability"] >= 0.5, ">50K", "<=50K")
    assert (out["prediction"] == pd.Series(expected)).all()
