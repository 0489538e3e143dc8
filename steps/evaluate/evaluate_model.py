"""Step: score the packaged model on the fixed golden test set."""

from typing import Annotated

import mlflow
import pandas as pd
from zenml import log_metadata, step

from inference.packaged_model import PackagedClassifier
from mlcicd.config import RunConfig
from mlcicd.data.loading import binary_target
from mlcicd.evaluation.scoring import score_model
from mlcicd.reporting.model import ModelScores


@step(experiment_tracker=True)
def evaluate_model(
    model: PackagedClassifier, golden_data: pd.DataFrame, config: RunConfig
) -> tuple[Annotated[dict[str, float], "test_metrics"], Annotated[ModelScores, "test_scores"]]:
    """Evaluated through the packaged object, so the numbers are those of what gets served."""
    probability = model.predict_proba(golden_data)
    scores = score_model(
        binary_target(golden_data, config.data).to_numpy(), probability, model.threshold
    )
    mlflow.log_metrics({f"test_{name}": value for name, value in scores.metrics.items()})
    log_metadata({"test_metrics": scores.metrics})
    return scores.metrics, scores
