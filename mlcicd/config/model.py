"""Which model to train, its hyperparameters, and where its checkpoints go."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from mlcicd.config.base import StrictModel, repo_relative


class TorchMLPConfig(StrictModel):
    """Hyperparameters of the PyTorch tabular MLP."""

    hidden_units: list[Annotated[int, Field(ge=1)]] = Field(default_factory=lambda: [128, 64])
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    learning_rate: float = Field(1e-3, gt=0.0)
    weight_decay: float = Field(1e-4, ge=0.0)
    batch_size: int = Field(256, ge=1)
    gpu_batch_size: int = Field(1024, ge=1)
    max_epochs: int = Field(40, ge=1)
    patience: int = Field(5, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"


class HistGradientBoostingConfig(StrictModel):
    """Hyperparameters of scikit-learn's HistGradientBoostingClassifier."""

    learning_rate: float = Field(0.1, gt=0.0)
    max_iter: int = Field(300, ge=1)
    max_leaf_nodes: int = Field(31, ge=2)
    l2_regularization: float = Field(0.0, ge=0.0)
    patience: int = Field(10, ge=1)


class ModelConfig(StrictModel):
    """Which model to train and its hyperparameters."""

    type: Literal["torch_mlp", "hist_gradient_boosting", "baseline"] = "torch_mlp"
    torch_mlp: TorchMLPConfig = TorchMLPConfig()
    hist_gradient_boosting: HistGradientBoostingConfig = HistGradientBoostingConfig()

    def hyperparameters(self) -> dict[str, Any]:
        """The hyperparameters of the selected model only."""
        if self.type == "baseline":
            return {"model_type": self.type, "strategy": "prior"}
        chosen: BaseModel = getattr(self, self.type)
        return {"model_type": self.type, **chosen.model_dump()}


class TrainingConfig(StrictModel):
    """Where interrupted trainings keep their checkpoints."""

    checkpoint_dir: str = ".local/checkpoints"
    # `local`: checkpoint_dir (a re-run with the same data and config resumes). `artifact_store`:
    # <artifact store>/checkpoints/<run id>, which outlives a lost pod (the gpu-k8s default).
    checkpoints: Literal["local", "artifact_store"] = "local"

    def checkpoint_path(self) -> Path:
        """Absolute checkpoint directory."""
        return repo_relative(Path(self.checkpoint_dir).expanduser())
