"""scikit-learn HistGradientBoosting on the same preprocessed features as the MLP."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from mlcicd.config import HistGradientBoostingConfig


def train_hist_gradient_boosting(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    config: HistGradientBoostingConfig,
    seed: int,
) -> tuple[HistGradientBoostingClassifier, dict[str, float]]:
    """Fit with early stopping on our own validation split (not an internal random one)."""
    model = HistGradientBoostingClassifier(
        learning_rate=config.learning_rate,
        max_iter=config.max_iter,
        max_leaf_nodes=config.max_leaf_nodes,
        l2_regularization=config.l2_regularization,
        early_stopping=True,
        n_iter_no_change=config.patience,
        scoring="loss",
        validation_fraction=None,
        random_state=seed,
    )
    model.fit(x_train, y_train, X_val=x_val, y_val=y_val)
    val_proba = model.predict_proba(x_val)[:, 1]
    summary = {
        "iterations": float(model.n_iter_),
        "val_auc": float(roc_auc_score(y_val, val_proba)),
        "val_accuracy": float(((val_proba >= 0.5) == (y_val == 1)).mean()),
    }
    return model, summary
