"""Dispatch training to the configured model type and package the result.

The step, the benchmark's bare script and the tests all call `fit_packaged_model`, so there is one
training path, not copies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pandas as pd
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import Pipeline

from inference.packaged_model import PackagedClassifier
from mlcicd.config import DataSchema, RunConfig
from mlcicd.data.loading import binary_target, feature_columns
from mlcicd.data.preprocessing import transform
from mlcicd.training.checkpoints import CheckpointFolder
from mlcicd.training.gradient_boosting import train_hist_gradient_boosting
from mlcicd.training.torch_mlp import EpochMetrics, train_torch_mlp


def checkpoint_key(config: RunConfig, data_fingerprint: str) -> str:
    """Checkpoints are only resumed by a run with the same data, config and seed."""
    return hashlib.sha256(f"{data_fingerprint}:{config.fingerprint()}".encode()).hexdigest()[:24]


def fit_packaged_model(
    train_split: pd.DataFrame,
    validation_split: pd.DataFrame,
    preprocessor: Pipeline,
    config: RunConfig,
    schema: DataSchema,
    data_fingerprint: str,
    on_epoch: Callable[[EpochMetrics], None] | None = None,
    checkpoints: CheckpointFolder | None = None,
) -> tuple[PackagedClassifier, dict[str, Any]]:
    """Train the configured model and wrap it with its preprocessing for registration.

    `checkpoints`: where an interrupted training resumes from; default `training.checkpoint_dir`.
    """
    data = config.data
    features = feature_columns(data, schema)
    x_train = transform(preprocessor, train_split[features])
    x_val = transform(preprocessor, validation_split[features])
    y_train = binary_target(train_split, data).to_numpy()
    y_val = binary_target(validation_split, data).to_numpy()
    classifier: Any
    if config.model.type == "torch_mlp":
        classifier, history = train_torch_mlp(
            x_train,
            y_train,
            x_val,
            y_val,
            config.model.torch_mlp,
            config.seed,
            checkpoint_dir=checkpoints or CheckpointFolder.local(config.training.checkpoint_path()),
            checkpoint_key=checkpoint_key(config, data_fingerprint),
            on_epoch=on_epoch,
        )
        summary = history.to_dict()
    elif config.model.type == "hist_gradient_boosting":
        classifier, fit_summary = train_hist_gradient_boosting(
            x_train, y_train, x_val, y_val, config.model.hist_gradient_boosting, config.seed
        )
        summary = {"device": "cpu", "device_name": "cpu", **fit_summary}
    elif config.model.type == "baseline":
        classifier = DummyClassifier(strategy="prior").fit(x_train, y_train)
        summary = {"device": "cpu", "device_name": "cpu", "strategy": "prior"}
    else:  # the config model already restricts this; kept for direct callers
        raise ValueError(f"unknown model type '{config.model.type}'")
    label_values = schema.column(data.label).values or []
    negative = next(v for v in label_values if v != data.positive_class)
    packaged = PackagedClassifier(
        preprocessor=preprocessor,
        classifier=classifier,
        feature_names=features,
        positive_class=data.positive_class,
        negative_class=negative,
    )
    return packaged, summary
