"""Step: export the candidate to ONNX and measure how closely it answers like the pyfunc."""

from typing import Annotated

import mlflow
import pandas as pd
from zenml import log_metadata, step

from inference.packaged_model import PackagedClassifier
from mlcicd.config import RunConfig
from mlcicd.packaging.package import package_model as export_and_compare
from mlcicd.reporting.model import PackagingResult


@step(experiment_tracker=True)
def package_model(
    model: PackagedClassifier, golden_data: pd.DataFrame, config: RunConfig
) -> tuple[Annotated[bytes, "onnx_model"], Annotated[PackagingResult, "onnx_parity"]]:
    """Never raises on a bad export: the `onnx_parity` gate rejects the run with the reason.

    Runs before the gates, so the latency gate can time the ONNX runtime the servers will run.
    """
    exported, result = export_and_compare(model, golden_data, config.packaging)
    if result.max_abs_difference is not None:
        mlflow.log_metric("onnx_parity_max_abs_difference", result.max_abs_difference)
    log_metadata(
        {
            "onnx_parity": {
                "max_abs_difference": result.max_abs_difference,
                "label_mismatches": result.label_mismatches,
                "sha256": result.sha256,
                "error": result.error or "",
            }
        }
    )
    return exported, result
