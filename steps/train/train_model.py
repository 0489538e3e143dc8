"""Step: train the configured model and log every hyperparameter and epoch to MLflow."""

from typing import Annotated, Any

import mlflow
import pandas as pd
from sklearn.pipeline import Pipeline
from zenml import get_step_context, log_metadata, step
from zenml.client import Client

from inference.packaged_model import PackagedClassifier
from mlcicd.config import DataSchema, RunConfig
from mlcicd.registry.lineage import training_lineage
from mlcicd.training.checkpoints import CheckpointFolder, run_checkpoint_folder
from mlcicd.training.fit import fit_packaged_model
from mlcicd.training.torch_mlp import EpochMetrics


def _checkpoints(config: RunConfig) -> CheckpointFolder | None:
    """The artifact store's folder of this run when configured (it outlives a lost pod)."""
    if config.training.checkpoints != "artifact_store":
        return None
    run_id = str(get_step_context().pipeline_run.id)
    return run_checkpoint_folder(Client().active_stack.artifact_store, run_id)


def _log_epoch(metrics: EpochMetrics) -> None:
    mlflow.log_metrics(
        {
            "train_loss": metrics.train_loss,
            "val_loss": metrics.val_loss,
            "val_auc": metrics.val_auc,
            "val_accuracy": metrics.val_accuracy,
            "epoch_seconds": metrics.seconds,
            "samples_per_second": metrics.samples_per_second,
        },
        step=metrics.epoch,
    )


@step(experiment_tracker=True)
def train_model(
    train_split: pd.DataFrame,
    validation_split: pd.DataFrame,
    preprocessor: Pipeline,
    config: RunConfig,
    schema: DataSchema,
    data_fingerprint: str,
) -> tuple[Annotated[PackagedClassifier, "model"], Annotated[dict[str, Any], "training_summary"]]:
    """The returned model already contains its preprocessing: it is what gets registered."""
    mlflow.log_params(
        {
            **config.model.hyperparameters(),
            "seed": config.seed,
            "train_rows": len(train_split),
            "validation_rows": len(validation_split),
        }
    )
    model, summary = fit_packaged_model(
        train_split,
        validation_split,
        preprocessor,
        config,
        schema,
        data_fingerprint,
        on_epoch=_log_epoch,
        checkpoints=_checkpoints(config),
    )
    mlflow.log_dict(summary, "training/summary.json")
    device_tags = training_lineage(summary)
    mlflow.set_tags({**device_tags, "model_type": config.model.type})
    log_metadata({**device_tags, "model_type": config.model.type})
    return model, summary
