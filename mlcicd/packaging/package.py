"""The package stage: export the candidate to ONNX and measure its parity on the golden set.

Neither function raises for a model that cannot be exported or an export that misbehaves: the
failure is written into the PackagingResult, and the `onnx_parity` gate rejects the run with it,
so the reviewer reads the reason in the report instead of a traceback.
"""

from __future__ import annotations

import hashlib
import time

import pandas as pd

from inference.onnx_classifier import OnnxClassifier
from inference.packaged_model import PackagedClassifier
from mlcicd.config import PackagingConfig
from mlcicd.packaging.onnx_export import ExportError, export_onnx
from mlcicd.packaging.parity import compare_answers
from mlcicd.reporting.model import PackagingResult


def package_model(
    model: PackagedClassifier, golden_data: pd.DataFrame, config: PackagingConfig
) -> tuple[bytes, PackagingResult]:
    """The ONNX file (empty when packaging is off or the export failed) and its parity result."""
    result = PackagingResult(opset=config.opset, tolerance=config.parity_tolerance)
    if not config.enabled:
        return b"", result.model_copy(update={"format": "none"})
    started = time.perf_counter()
    try:
        exported = export_onnx(model, config.opset)
    except ExportError as error:
        return b"", result.model_copy(update={"error": f"export failed: {error}"})
    except Exception as error:  # torch.onnx, skl2onnx or the checker refusing the graph
        return b"", result.model_copy(
            update={"error": f"export failed: {type(error).__name__}: {error}"}
        )
    exported_in = time.perf_counter() - started
    checked = check_parity(model, exported, golden_data, result, config.serving_threads)
    return exported, checked.model_copy(update={"export_seconds": round(exported_in, 3)})


def check_parity(
    model: PackagedClassifier,
    exported: bytes,
    golden_data: pd.DataFrame,
    result: PackagingResult,
    threads: int = 1,
) -> PackagingResult:
    """Both models on every golden row, compared; the file's sha256 and size recorded."""
    identity = {"sha256": hashlib.sha256(exported).hexdigest(), "size_bytes": len(exported)}
    features = golden_data[model.feature_names]
    try:
        runtime = OnnxClassifier(exported, threads=threads)
        candidate = runtime.predict_proba(features)
        candidate_labels = runtime.predict_labels(candidate)
    except Exception as error:
        message = f"the ONNX model does not run in onnxruntime: {type(error).__name__}: {error}"
        return result.model_copy(update={**identity, "error": message})
    answers = model.predict(None, features)
    compared = compare_answers(
        result,
        answers["probability"].to_numpy(),
        candidate,
        answers["prediction"].to_numpy(),
        candidate_labels,
    )
    return compared.model_copy(update=identity)
