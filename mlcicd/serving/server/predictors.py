"""What answers a validated request: the version's ONNX export or its MLflow pyfunc.

Both give labels and positive-class probabilities as plain lists, checked (one per row, finite,
within [0, 1]) before they reach the response. The ONNX path imports onnxruntime and numpy only;
MLflow's pyfunc machinery (and torch or scikit-learn with the model) only for `runtime: pyfunc`
or a version that has no export.
"""

from __future__ import annotations

import atexit
import json
import logging
import shutil
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from mlcicd.serving.server.request_parsing import FeatureSpec, ParsedRequest

logger = logging.getLogger(__name__)


def model_directory(model_uri: str) -> Path:
    """The version's MLflow model folder: a local path as given, else downloaded once.

    Only a remote URI (models:/, runs:/, s3://...) imports MLflow, and only its artifact
    download; MLFLOW_TRACKING_URI says which server resolves it.
    """
    local = Path(model_uri.removeprefix("file://"))
    if "://" not in model_uri.removeprefix("file://") and ":/" not in model_uri[:12]:
        if not (local / "MLmodel").is_file():
            raise FileNotFoundError(f"{model_uri} is not an MLflow model folder (no MLmodel)")
        return local
    import mlflow.artifacts

    target = tempfile.mkdtemp(prefix="mlcicd-model-")
    atexit.register(shutil.rmtree, target, ignore_errors=True)  # the copy lives as the process
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=target))


def feature_specs_of(folder: Path) -> list[FeatureSpec]:
    """Column specs from the input signature in a model folder's MLmodel (name, type, required)."""
    description = yaml.safe_load((folder / "MLmodel").read_text()) or {}
    signature = description.get("signature") or {}
    if not signature.get("inputs"):
        raise ValueError("the model has no input signature; requests cannot be validated")
    columns = json.loads(signature["inputs"])
    specs = []
    for column in columns:
        if column.get("type") == "tensor":
            raise ValueError("the model's input signature is a tensor spec, not named columns")
        if not column.get("name"):
            raise ValueError("the model's input signature has an unnamed column")
        specs.append(
            FeatureSpec(
                str(column["name"]), str(column["type"]), bool(column.get("required", True))
            )
        )
    return specs


class Predictor(ABC):
    """What answers a validated request: labels and positive-class probabilities."""

    runtime = ""
    feature_names: list[str] | None = None

    @abstractmethod
    def predict(
        self, parsed: ParsedRequest, features: list[FeatureSpec]
    ) -> tuple[list[str], list[float]]:
        """Labels and probabilities, one per row of `parsed`."""


class OnnxPredictor(Predictor):
    """The ONNX export in onnxruntime."""

    runtime = "onnx"

    def __init__(self, exported: bytes, threads: int) -> None:
        from inference.onnx_classifier import OnnxClassifier

        self.model = OnnxClassifier(exported, threads=threads)
        self.feature_names = self.model.feature_names

    def predict(
        self, parsed: ParsedRequest, features: list[FeatureSpec]
    ) -> tuple[list[str], list[float]]:
        """numpy columns in, probabilities out; labels by the export's own threshold."""
        probability = self.model.predict_proba(parsed.columns)
        return _checked(self.model.predict_labels(probability), probability, parsed.rows)


class PyfuncPredictor(Predictor):
    """The MLflow pyfunc's PackagedClassifier on a pandas frame."""

    runtime = "pyfunc"

    def __init__(self, model: Any) -> None:
        if not callable(getattr(model, "predict", None)):
            raise TypeError(f"{type(model).__name__} is not a PackagedClassifier pyfunc model")
        self.model = model
        names = getattr(model, "feature_names", None)
        self.feature_names = None if names is None else [str(n) for n in names]

    @classmethod
    def load(cls, folder: Path) -> PyfuncPredictor:
        """The pyfunc in a model folder (imports MLflow, and torch with an MLP)."""
        import mlflow.pyfunc

        return cls(mlflow.pyfunc.load_model(str(folder)).unwrap_python_model())

    def predict(
        self, parsed: ParsedRequest, features: list[FeatureSpec]
    ) -> tuple[list[str], list[float]]:
        """The frame the pyfunc was trained on, built from the clean columns."""
        out = self.model.predict(None, parsed.frame(features))
        if len(out) != parsed.rows or not {"prediction", "probability"} <= set(out.columns):
            raise RuntimeError(
                f"model output has shape {out.shape} and columns {list(out.columns)}"
            )
        return _checked(out["prediction"].to_numpy(), out["probability"].to_numpy(), parsed.rows)


def load_predictor(folder: Path, runtime: str, threads: int) -> Predictor:
    """The runtime asked for; pyfunc for a version without an ONNX export (and a log line)."""
    if runtime == "onnx":
        from inference.onnx_classifier import read_onnx_export

        exported = read_onnx_export(folder)
        if exported:
            return OnnxPredictor(exported, threads)
        logger.warning(
            "this version has no ONNX export (registered before the package stage); "
            "serving its pyfunc"
        )
    return PyfuncPredictor.load(folder)


def _checked(labels: Any, probability: Any, rows: int) -> tuple[list[str], list[float]]:
    """Plain lists for the response, after checking what the model gave back."""
    values = np.asarray(probability, dtype=np.float64).reshape(-1)
    if values.size != rows or len(labels) != rows:
        raise RuntimeError(f"model answered {values.size} probabilities for {rows} rows")
    if not (np.isfinite(values).all() and ((values >= 0.0) & (values <= 1.0)).all()):
        raise RuntimeError("model returned a probability outside [0, 1]")
    return [str(label) for label in labels], values.tolist()
