"""Deliberately broken model versions: what a rollout's analysis must catch and roll back.

Each is a real PackagedClassifier registered as a real MLflow version and served by a real model
server; only its predictions misbehave, and only on single-row requests (so logging the model and
its signature works, as it would for a bad model that passed offline checks).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from inference.packaged_model import PackagedClassifier


class FaultyClassifier(PackagedClassifier):
    """A packaged model whose online answers fail, slow down or shift, by `mode`."""

    mode: str = "healthy"
    every: int = 3  # erroring: every n-th single-row call fails
    delay_s: float = 0.3  # slow: added to every single-row call
    shift: float = 0.4  # shifted: added to every single-row probability
    _calls: int = 0

    @classmethod
    def from_model(cls, model: PackagedClassifier, mode: str, **settings: Any) -> FaultyClassifier:
        """The same trained model with a fault switched on."""
        faulty = cls.__new__(cls)
        faulty.__dict__.update(model.__dict__)
        faulty.mode = mode
        for key, value in settings.items():
            setattr(faulty, key, value)
        return faulty

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """The model's answer, with the fault applied to single rows."""
        out = super().predict(context, model_input, params)
        if len(model_input) != 1:
            return out
        self._calls += 1
        if self.mode == "erroring" and self._calls % self.every == 0:
            raise RuntimeError("injected model failure")
        if self.mode == "slow":
            time.sleep(self.delay_s)
        if self.mode == "shifted":
            probability = np.clip(out["probability"].to_numpy() + self.shift, 0.0, 1.0)
            labels = np.where(
                probability >= self.threshold, self.positive_class, self.negative_class
            )
            return pd.DataFrame({"prediction": labels, "probability": probability})
        return out
