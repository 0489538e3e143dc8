"""The exported model at serving time: onnxruntime, numpy in, numpy out.

An ONNX file written by the package stage (`mlcicd.packaging.onnx_export`) has one input per
feature column, each of shape (rows, 1): numbers as float64 with NaN for a missing value, text as
strings with the preprocessor's missing-category marker for a missing value. Its single output is
the positive-class probability (float64, shape (rows,)). The class names, the decision threshold
and the column kinds travel in the file's metadata, so this module needs nothing but numpy and
onnxruntime: the model server, the latency gate and the parity gate all run it, and the serving
image carries neither torch nor scikit-learn for it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnxruntime
import yaml

METADATA_PREFIX = "mlcicd."
PROBABILITY_OUTPUT = "probability"
# where the registered pyfunc keeps its export: python_function artifact + MLmodel metadata
ONNX_ARTIFACT = "onnx_model"
ONNX_FILE_NAME = "model.onnx"
ONNX_SHA256_KEY = "onnx_sha256"

ColumnKind = Literal["number", "string"]


@dataclass(frozen=True)
class OnnxInput:
    """One model input: a feature column and how its values are fed."""

    name: str
    kind: ColumnKind


def model_metadata(
    inputs: Sequence[OnnxInput],
    positive_class: str,
    negative_class: str,
    threshold: float,
    missing_category: str,
) -> dict[str, str]:
    """What the exporter writes into the file and `OnnxClassifier` reads back."""
    return {
        METADATA_PREFIX + "inputs": json.dumps([[i.name, i.kind] for i in inputs]),
        METADATA_PREFIX + "positive_class": positive_class,
        METADATA_PREFIX + "negative_class": negative_class,
        METADATA_PREFIX + "threshold": repr(float(threshold)),
        METADATA_PREFIX + "missing_category": missing_category,
    }


def read_onnx_export(model_dir: Path) -> bytes | None:
    """The ONNX file logged with a downloaded pyfunc model, checked against its sha256.

    None for a version registered without one (before the package stage existed); a file that
    does not match the sha256 recorded in the model's MLmodel raises, so a swapped file is
    never served.
    """
    description = yaml.safe_load((model_dir / "MLmodel").read_text()) or {}
    flavor = (description.get("flavors") or {}).get("python_function") or {}
    entry = (flavor.get("artifacts") or {}).get(ONNX_ARTIFACT)
    if not entry:
        return None
    exported = (model_dir / str(entry["path"])).read_bytes()
    expected = (description.get("metadata") or {}).get(ONNX_SHA256_KEY, "")
    actual = hashlib.sha256(exported).hexdigest()
    if actual != expected:
        raise ValueError(
            f"{entry['path']} in {model_dir} has sha256 {actual}, but the model records "
            f"{expected or 'none'}: the file was changed after registration"
        )
    return exported


class OnnxClassifier:
    """A loaded ONNX export; `predict_proba` and `predict_labels` match `PackagedClassifier`."""

    def __init__(self, model: bytes, threads: int = 1) -> None:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        # the spinning worker threads would burn a core between requests
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(
            model, options, providers=["CPUExecutionProvider"]
        )
        meta = dict(self.session.get_modelmeta().custom_metadata_map)
        try:
            self.inputs = [
                OnnxInput(str(name), kind)
                for name, kind in json.loads(meta[METADATA_PREFIX + "inputs"])
            ]
            self.positive_class = meta[METADATA_PREFIX + "positive_class"]
            self.negative_class = meta[METADATA_PREFIX + "negative_class"]
            self.threshold = float(meta[METADATA_PREFIX + "threshold"])
            self.missing_category = meta[METADATA_PREFIX + "missing_category"]
        except (KeyError, ValueError, TypeError) as error:
            raise ValueError(
                f"not an ONNX export of this project (metadata {error} missing or malformed)"
            ) from None
        graph_inputs = {i.name for i in self.session.get_inputs()}
        if graph_inputs != {i.name for i in self.inputs}:
            raise ValueError(
                f"the ONNX graph's inputs {sorted(graph_inputs)} differ from its metadata"
            )
        self.feature_names = [i.name for i in self.inputs]

    def feed(self, columns: Any) -> dict[str, np.ndarray]:
        """Model inputs from `columns[name]`: a list, numpy array or pandas Series per column.

        Missing values (None, NaN) become NaN in number columns and the missing-category marker
        in text columns, as the fitted imputers treat them.
        """
        feed: dict[str, np.ndarray] = {}
        for spec in self.inputs:
            raw = columns[spec.name]
            if spec.kind == "number":
                with contextlib.suppress(TypeError, ValueError):  # numpy reads None as NaN
                    feed[spec.name] = np.asarray(raw, dtype=np.float64).reshape(-1, 1)
                    continue
            values = np.asarray(raw, dtype=object).reshape(-1)
            missing = (values == None) | (values != values)  # noqa: E711 (elementwise)
            if missing.any():
                values = values.copy()
                values[missing] = np.nan if spec.kind == "number" else self.missing_category
            kind = np.float64 if spec.kind == "number" else str
            feed[spec.name] = values.astype(kind).reshape(-1, 1)
        return feed

    def predict_proba(self, columns: Any) -> np.ndarray:
        """Positive-class probability per row (float64)."""
        (probability,) = self.session.run([PROBABILITY_OUTPUT], self.feed(columns))
        return np.asarray(probability, dtype=np.float64).reshape(-1)

    def predict_labels(self, probability: np.ndarray) -> np.ndarray:
        """Class labels by the model's threshold, exactly as `PackagedClassifier.predict`."""
        return np.where(probability >= self.threshold, self.positive_class, self.negative_class)
