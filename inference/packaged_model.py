"""The deployable model: fitted preprocessing + classifier behind one MLflow pyfunc.

The same object is evaluated on the golden set, registered in MLflow and served by Seldon, so
the numbers in the evaluation report are the numbers of what runs in production.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel


class ProbabilisticClassifier(Protocol):
    """Anything with scikit-learn's predict_proba on a dense feature matrix."""

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities, shape (n, 2)."""
        ...


class PackagedClassifier(PythonModel):
    """Raw feature rows in, `prediction` (class label) and `probability` (positive class) out."""

    def __init__(
        self,
        preprocessor: Any,
        classifier: ProbabilisticClassifier,
        feature_names: list[str],
        positive_class: str,
        negative_class: str,
        threshold: float = 0.5,
    ) -> None:
        self.preprocessor = preprocessor
        self.classifier = classifier
        self.feature_names = list(feature_names)
        self.positive_class = positive_class
        self.negative_class = negative_class
        self.threshold = threshold

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Probability of the positive class for each row."""
        missing = [c for c in self.feature_names if c not in frame.columns]
        if missing:
            raise ValueError(f"input is missing feature column(s): {missing}")
        features = np.asarray(
            self.preprocessor.transform(frame[self.feature_names]),
            dtype=np.float32,
        )
        return np.asarray(self.classifier.predict_proba(features)[:, 1], dtype=np.float64)

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """MLflow pyfunc entry point."""
        probability = self.predict_proba(model_input)
        labels = np.where(probability >= self.threshold, self.positive_class, self.negative_class)
        return pd.DataFrame({"prediction": labels, "probability": probability})
