"""The package stage: ONNX export of both model types and the parity gate that holds it honest."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import onnx
import pandas as pd
import pytest
from onnx import numpy_helper
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

from inference.onnx_classifier import OnnxClassifier, read_onnx_export
from inference.packaged_model import PackagedClassifier
from mlcicd.config import ConfigError, PackagingConfig
from mlcicd.config.run_config import validate_run_config
from mlcicd.evaluation.gates import onnx_parity_gate
from mlcicd.packaging.package import check_parity, package_model
from mlcicd.packaging.parity import compare_answers
from mlcicd.registry.versions import load_version, log_packaged_model
from mlcicd.reporting.model import PackagingResult
from tests.helpers.configs import local_config

CONFIG = PackagingConfig()


@pytest.fixture(scope="module")
def golden(adult_frames: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    """2,000 golden rows, some with missing text (workclass) and every category kind."""
    frame = adult_frames[1].head(2000).reset_index(drop=True)
    assert frame["workclass"].isna().any(), "the parity test must see missing categories"
    return frame


@pytest.fixture(scope="module")
def trees(packaged: PackagedClassifier, adult_frames: Any) -> PackagedClassifier:
    """HistGradientBoosting on the preprocessing of the session's shared model."""
    from mlcicd.config import HistGradientBoostingConfig
    from mlcicd.data.loading import binary_target
    from mlcicd.data.preprocessing import transform
    from mlcicd.training.gradient_boosting import train_hist_gradient_boosting

    config, _ = _local()
    train = adult_frames[0].head(2000)
    x = transform(packaged.preprocessor, train[packaged.feature_names])
    y = binary_target(train, config.data).to_numpy()
    settings = HistGradientBoostingConfig(max_iter=40)
    model, _ = train_hist_gradient_boosting(x[:1500], y[:1500], x[1500:], y[1500:], settings, 0)
    return _with(packaged, model)


def _local() -> Any:
    from mlcicd.config import load_config

    return load_config("local")


def _with(packaged: PackagedClassifier, classifier: Any) -> PackagedClassifier:
    return PackagedClassifier(
        packaged.preprocessor,
        classifier,
        packaged.feature_names,
        packaged.positive_class,
        packaged.negative_class,
    )


@pytest.mark.parametrize("kind", ["torch_mlp", "hist_gradient_boosting", "baseline"])
def test_export_reproduces_the_pyfunc_on_the_golden_set(
    kind: str, packaged: PackagedClassifier, trees: PackagedClassifier, golden: pd.DataFrame
) -> None:
    if kind == "baseline":
        from mlcicd.data.loading import binary_target
        from mlcicd.data.preprocessing import transform

        x = transform(packaged.preprocessor, golden[packaged.feature_names])
        y = binary_target(golden, _local()[0].data).to_numpy()
        model = _with(packaged, DummyClassifier(strategy="prior").fit(x, y))
    else:
        model = packaged if kind == "torch_mlp" else trees
    exported, result = package_model(model, golden, CONFIG)

    assert result.error is None
    assert result.rows_compared == len(golden)
    assert result.max_abs_difference is not None and result.max_abs_difference < 1e-5
    assert result.label_mismatches == 0 and result.first_mismatch_row is None
    assert result.sha256 == hashlib.sha256(exported).hexdigest()
    assert result.size_bytes == len(exported) > 0
    gate = onnx_parity_gate(CONFIG, result)
    assert gate.status == "passed", gate.summary
    assert f"{len(golden)} golden rows" in gate.summary
    # the runtime alone (no torch, no scikit-learn) gives the labels the pyfunc gives
    runtime = OnnxClassifier(exported)
    answers = model.predict(None, golden)
    labels = runtime.predict_labels(runtime.predict_proba(golden))
    assert (labels == answers["prediction"].to_numpy()).all()


def test_a_corrupted_export_fails_with_the_worst_row(
    packaged: PackagedClassifier, golden: pd.DataFrame
) -> None:
    exported, _ = package_model(packaged, golden, CONFIG)
    graph = onnx.load_from_string(exported)
    scale = next(t for t in graph.graph.initializer if t.name == "num/scale")
    changed = numpy_helper.to_array(scale).copy()
    changed[0] *= 1.5  # age scaled wrongly: every row moves a little, some a lot
    scale.CopyFrom(numpy_helper.from_array(changed, "num/scale"))
    corrupted = graph.SerializeToString()

    result = check_parity(packaged, corrupted, golden, PackagingResult(opset=21, tolerance=1e-5))
    gate = onnx_parity_gate(CONFIG, result)

    assert gate.status == "failed"
    assert result.max_abs_difference is not None and result.max_abs_difference > 1e-5
    worst = result.worst_row
    assert worst is not None
    expected = packaged.predict_proba(golden.iloc[[worst]])[0]
    assert result.worst_row_probabilities["pyfunc"] == pytest.approx(expected, abs=1e-12)
    assert f"golden row {worst}: pyfunc {expected:.6f}" in gate.summary
    assert "largest |pyfunc - onnx| probability" in gate.summary
    assert result.sha256 == hashlib.sha256(corrupted).hexdigest()


def test_an_unexportable_classifier_is_a_gate_failure_not_a_crash(
    packaged: PackagedClassifier, golden: pd.DataFrame
) -> None:
    from mlcicd.data.preprocessing import transform

    x = transform(packaged.preprocessor, golden[packaged.feature_names])
    logistic = LogisticRegression(max_iter=500).fit(x, np.arange(len(x)) % 2)
    exported, result = package_model(_with(packaged, logistic), golden, CONFIG)

    assert exported == b""
    gate = onnx_parity_gate(CONFIG, result)
    assert gate.status == "failed"
    assert gate.summary == (
        "failed: export failed: no ONNX converter for classifier LogisticRegression"
    )


def test_a_preprocessor_fitted_before_the_none_fix_exports_faithfully(
    packaged: PackagedClassifier, golden: pd.DataFrame
) -> None:
    """Older models imputed NaN only, so missing text reached the encoder as an unknown."""
    old = copy.deepcopy(packaged)
    columns = old.preprocessor.named_steps["columns"]
    columns.named_transformers_["categorical"].named_steps["impute"].missing_values = np.nan
    assert not np.allclose(old.predict_proba(golden), packaged.predict_proba(golden))

    _, result = package_model(old, golden, CONFIG)

    assert result.max_abs_difference is not None and result.max_abs_difference < 1e-5
    assert result.label_mismatches == 0


def test_disabled_packaging_is_skipped_and_exports_nothing(
    packaged: PackagedClassifier, golden: pd.DataFrame
) -> None:
    config = PackagingConfig(enabled=False, serving_runtime="pyfunc")
    exported, result = package_model(packaged, golden, config)
    assert exported == b"" and result.format == "none"
    assert onnx_parity_gate(config, result).status == "skipped"


def test_a_missing_packaging_result_names_the_way_out() -> None:
    gate = onnx_parity_gate(CONFIG, None)
    assert gate.status == "failed"
    assert "packaging.serving_runtime: pyfunc" in gate.summary


def test_answers_compared_strictly() -> None:
    base = PackagingResult(opset=21, tolerance=1e-5)
    reference = np.array([0.1, 0.6, 0.9])
    labels = np.array(["a", "b", "b"])

    nan = compare_answers(base, reference, np.array([0.1, np.nan, 0.9]), labels, labels)
    assert nan.max_abs_difference == float("inf") and nan.worst_row == 1
    assert onnx_parity_gate(CONFIG, nan).status == "failed"

    flipped = compare_answers(base, reference, reference + 1e-7, labels, np.array(["a", "a", "b"]))
    gate = onnx_parity_gate(CONFIG, flipped)
    assert flipped.label_mismatches == 1 and flipped.first_mismatch_row == 1
    assert gate.status == "failed" and "first class mismatch at golden row 1" in gate.summary

    short = compare_answers(base, reference, reference[:2], labels, labels[:2])
    assert short.error == "the ONNX model answered 2 rows for 3"


def test_serving_onnx_needs_packaging() -> None:
    raw = local_config()
    raw["packaging"] = {"enabled": False}
    with pytest.raises(ConfigError) as error:
        validate_run_config(raw, "test.yaml")
    message = str(error.value)
    assert "packaging.serving_runtime is 'onnx' but packaging.enabled is false" in message
    assert "set packaging.serving_runtime: pyfunc" in message


def test_the_export_travels_with_the_registered_version(
    packaged: PackagedClassifier, golden: pd.DataFrame, tmp_path: Path
) -> None:
    exported, _ = package_model(packaged, golden, CONFIG)
    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_registry_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        client = mlflow.MlflowClient()
        experiment = client.create_experiment("pkg", artifact_location=str(tmp_path / "art"))
        with mlflow.start_run(experiment_id=experiment):
            uri = log_packaged_model(packaged, golden.head(20), exported)
        version = mlflow.register_model(uri, "onnx-carrier").version
        model, onnx_model = load_version(client, "onnx-carrier", str(version))
        local = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path / "dl")))
    finally:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])
    assert onnx_model == exported
    assert model.feature_names == packaged.feature_names
    assert read_onnx_export(local) == exported
    (local / "artifacts" / "model.onnx").write_bytes(exported + b"\x00")
    with pytest.raises(ValueError, match="the file was changed after registration"):
        read_onnx_export(local)


def test_an_onnx_file_of_another_project_is_refused(tmp_path: Path) -> None:
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "foreign",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    with pytest.raises(ValueError, match="not an ONNX export of this project"):
        OnnxClassifier(model.SerializeToString())
