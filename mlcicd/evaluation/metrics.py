"""Classification metrics on the golden test set."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)


def classification_metrics(
    y_true: np.ndarray, probability: np.ndarray, threshold: float = 0.5
) -> dict[str, float]:
    """Accuracy, ROC AUC, F1, precision, recall and log loss for a binary target."""
    y_true = np.asarray(y_true).astype(int)
    probability = np.asarray(probability, dtype=np.float64)
    if len(y_true) == 0:
        raise ValueError("cannot compute metrics on an empty set")
    if len(np.unique(y_true)) < 2:
        raise ValueError("the evaluation set contains a single class; ROC AUC is undefined")
    predicted = (probability >= threshold).astype(int)
    return {
        "accuracy": float(accuracy_score(y_true, predicted)),
        "roc_auc": float(roc_auc_score(y_true, probability)),
        "f1": float(f1_score(y_true, predicted, zero_division=0)),
        "precision": float(precision_score(y_true, predicted, zero_division=0)),
        "recall": float(recall_score(y_true, predicted, zero_division=0)),
        "log_loss": float(log_loss(y_true, np.clip(probability, 1e-15, 1 - 1e-15), labels=[0, 1])),
    }
