"""Scores, curves and fairness tables of one packaged model on the golden set."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, precision_recall_curve, roc_curve

from mlcicd.config import FairnessGateConfig, SensitiveGroups
from mlcicd.evaluation.groups import describe_groups, group_labels
from mlcicd.evaluation.metrics import classification_metrics
from mlcicd.reporting.model import (
    ConfusionMatrix,
    CurvePoint,
    FairnessResult,
    GroupMetrics,
    ModelScores,
)

MAX_CURVE_POINTS = 100


def _downsample(xs: np.ndarray, ys: np.ndarray) -> list[CurvePoint]:
    """Keep at most MAX_CURVE_POINTS points, always including both ends."""
    if len(xs) > MAX_CURVE_POINTS:
        idx = np.unique(np.linspace(0, len(xs) - 1, MAX_CURVE_POINTS).round().astype(int))
        xs, ys = xs[idx], ys[idx]
    return [
        CurvePoint(x=round(float(x), 6), y=round(float(y), 6)) for x, y in zip(xs, ys, strict=True)
    ]


def score_model(y_true: np.ndarray, probability: np.ndarray, threshold: float) -> ModelScores:
    """Metrics, ROC/PR curves and the confusion matrix at the decision threshold."""
    metrics = classification_metrics(y_true, probability, threshold)
    fpr, tpr, _ = roc_curve(y_true, probability)
    precision, recall, _ = precision_recall_curve(y_true, probability)
    predicted = (probability >= threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(y_true, predicted, labels=[0, 1]).ravel()
    return ModelScores(
        metrics=metrics,
        roc_curve=_downsample(fpr, tpr),
        pr_curve=_downsample(recall[::-1], precision[::-1]),
        confusion=ConfusionMatrix(
            true_negative=int(tn),
            false_positive=int(fp),
            false_negative=int(fn),
            true_positive=int(tp),
        ),
        probability_std=float(np.std(probability)),
        positive_rate=float(predicted.mean()),
    )


def _optional(value: float) -> float | None:
    """fairlearn gives NaN (and a warning) for a rate whose denominator is zero in a group."""
    return None if math.isnan(value) else float(value)


def _disparities(y: np.ndarray, pred: np.ndarray, groups: pd.Series) -> tuple[float, float]:
    """Demographic parity and equalized odds differences (fairlearn) over the given rows."""
    from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

    if groups.nunique() < 2:
        return 0.0, 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fairlearn warns about groups without positives
        dpd = float(demographic_parity_difference(y, pred, sensitive_features=groups))
        eod = float(equalized_odds_difference(y, pred, sensitive_features=groups))
    return dpd, (0.0 if math.isnan(eod) else eod)


def fairness_tables(
    frame: pd.DataFrame,
    y_true: np.ndarray,
    probability: np.ndarray,
    threshold: float,
    features: list[str],
    config: FairnessGateConfig,
    derived: Mapping[str, SensitiveGroups] | None = None,
    champion_predicted: np.ndarray | None = None,
) -> list[FairnessResult]:
    """A MetricFrame per sensitive feature; disparities only over groups big enough to judge.

    Beside the model's disparities, the same ones of the golden labels (the data's own) and of
    the champion's predictions, over the same judged groups, for the relative bounds.
    """
    from fairlearn.metrics import (
        MetricFrame,
        count,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score

    group_metrics = {
        "selection_rate": selection_rate,
        "accuracy": accuracy_score,
        "true_positive_rate": true_positive_rate,
        "false_positive_rate": false_positive_rate,
        "count": count,
    }
    predicted = (probability >= threshold).astype(int)
    results = []
    for feature in features:
        definition = (derived or {}).get(feature)
        groups = group_labels(frame[feature], definition)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # groups without positives or negatives
            frame_metrics = MetricFrame(
                metrics=group_metrics,
                y_true=y_true,
                y_pred=predicted,
                sensitive_features=groups.to_numpy(),
            ).by_group
        rows = []
        for group, values in frame_metrics.iterrows():
            rows.append(
                GroupMetrics(
                    group=str(group),
                    count=int(values["count"]),
                    selection_rate=float(values["selection_rate"]),
                    accuracy=float(values["accuracy"]),
                    true_positive_rate=_optional(values["true_positive_rate"]),
                    false_positive_rate=_optional(values["false_positive_rate"]),
                    small=int(values["count"]) < config.min_group_size,
                )
            )
        judged = [r.group for r in rows if not r.small]
        keep = groups.isin(judged).to_numpy()
        dpd, eod = _disparities(y_true[keep], predicted[keep], groups[keep])
        label_dpd, _ = _disparities(y_true[keep], y_true[keep], groups[keep])
        champion: tuple[float | None, float | None] = (None, None)
        if champion_predicted is not None:  # 0/1 by the champion's own threshold
            theirs = np.asarray(champion_predicted).astype(int)
            champion = _disparities(y_true[keep], theirs[keep], groups[keep])
        results.append(
            FairnessResult(
                feature=feature,
                groups=sorted(rows, key=lambda r: -r.count),
                demographic_parity_difference=dpd,
                equalized_odds_difference=eod,
                groups_in_verdict=sorted(judged),
                definition=describe_groups(definition),
                label_demographic_parity_difference=label_dpd,
                champion_demographic_parity_difference=champion[0],
                champion_equalized_odds_difference=champion[1],
            )
        )
    return results
