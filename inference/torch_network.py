"""The PyTorch network and its inference wrapper.

This module travels with every registered model (MLflow `code_paths`), so it imports only what
serving needs: numpy and torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn


class TabularMLP(nn.Module):
    """Feed-forward network for one-hot/scaled tabular features; outputs one logit."""

    def __init__(self, n_features: int, hidden_units: list[int], dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_features
        for units in hidden_units:
            layers += [nn.Linear(width, units), nn.ReLU(), nn.Dropout(dropout)]
            width = units
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Logits of shape (batch,)."""
        return self.net(features).squeeze(-1)


class TorchTabularClassifier:
    """A trained TabularMLP with a scikit-learn-like `predict_proba`, always on CPU for serving.

    The weights are kept as a state dict so the object pickles small and loads without CUDA.
    """

    def __init__(
        self, n_features: int, hidden_units: list[int], dropout: float, state_dict: dict[str, Any]
    ) -> None:
        self.n_features = n_features
        self.hidden_units = list(hidden_units)
        self.dropout = dropout
        self.state_dict = {k: v.detach().cpu().clone() for k, v in state_dict.items()}
        self._network: TabularMLP | None = None

    def network(self) -> TabularMLP:
        """The network in eval mode, built once per process."""
        if self._network is None:
            net = TabularMLP(self.n_features, self.hidden_units, self.dropout)
            net.load_state_dict(self.state_dict)
            net.eval()
            self._network = net
        return self._network

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Probabilities of shape (n, 2): negative class, positive class."""
        if features.ndim != 2 or features.shape[1] != self.n_features:
            raise ValueError(
                f"expected a 2-D array with {self.n_features} features, got shape {features.shape}"
            )
        with torch.inference_mode():
            logits = self.network()(torch.as_tensor(features, dtype=torch.float32))
            positive = torch.sigmoid(logits).double().numpy()
        return np.column_stack([1.0 - positive, positive])

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_network"] = None
        return state
