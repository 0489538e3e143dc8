"""The floor of the comparison: seldon-core's own wrapper answering a model that does nothing.

`serving_latency.py` runs it with `python -m mlcicd.serving.local.serve --interface
benchmarks.trivial_seldon_model.TrivialModel`, the same launcher and gunicorn set-up as the
project's server, so the gap between the two is what the project's server does per request.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class TrivialModel:
    """One constant probability per row; seldon-core parses the request and builds the answer."""

    def __init__(self, **parameters: Any) -> None:
        self.parameters = parameters

    def predict(self, features: Any, names: Any, meta: Any = None) -> np.ndarray:
        """Seldon's plain `predict`: an ndarray in, an ndarray out."""
        rows = len(features)
        return np.column_stack([np.full(rows, "<=50K", dtype=object), np.full(rows, 0.25)])
