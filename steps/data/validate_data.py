"""Step: the data gate. Great Expectations checks both files against the declared schema."""

import json
import tempfile
from pathlib import Path
from typing import Annotated, Any

import mlflow
import pandas as pd
from zenml import log_metadata, step

from mlcicd.config import DataSchema, RunConfig
from mlcicd.data.expectations import validate_batches
from mlcicd.errors import DataValidationFailed


@step(experiment_tracker=True)
def validate_data(
    train_data: pd.DataFrame, golden_data: pd.DataFrame, config: RunConfig, schema: DataSchema
) -> tuple[Annotated[dict[str, Any], "validation_summary"], Annotated[Path, "data_docs"]]:
    """Stop the pipeline before training when any expectation fails; log results either way."""
    docs_dir = Path(tempfile.mkdtemp(prefix="data_docs_"))
    summary = validate_batches(
        {"train": train_data, "golden": golden_data}, schema, config.data.label, docs_dir
    )
    result = summary.to_dict()
    mlflow.log_text(json.dumps(result, indent=2), "data_validation/summary.json")
    mlflow.log_artifacts(str(docs_dir), "data_validation/data_docs")
    mlflow.log_metric("data_validation_failed_expectations", len(summary.failures()))
    log_metadata(
        {
            "data_validation_success": summary.success,
            "failed_expectations": [f.describe() for f in summary.failures()],
        }
    )
    if not summary.success:
        raise DataValidationFailed(summary.failure_message())
    return result, docs_dir
