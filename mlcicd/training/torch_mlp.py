"""Training loop for the tabular MLP: seeded, early-stopped, resumable from checkpoints.

Same data + config + seed gives the same weights on CPU. A checkpoint is written after every
epoch; an interrupted run with the same key resumes where it stopped and ends with the same
weights an uninterrupted run would have produced.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn
from tqdm import tqdm

from inference.torch_network import TabularMLP, TorchTabularClassifier
from mlcicd.config import TorchMLPConfig
from mlcicd.errors import GateRejected
from mlcicd.training.checkpoints import CheckpointFolder


@dataclass(frozen=True)
class EpochMetrics:
    """What one epoch achieved, logged to the experiment tracker."""

    epoch: int
    train_loss: float
    val_loss: float
    val_auc: float
    val_accuracy: float
    seconds: float
    samples_per_second: float


@dataclass
class TrainingHistory:
    """Per-epoch metrics and how training ended."""

    device: str
    device_name: str
    epochs: list[EpochMetrics] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    resumed_from_epoch: int | None = None
    mixed_precision: bool = False
    batch_size: int = 0
    cuda_version: str = "none"
    """CUDA runtime torch used on the GPU ("none" on CPU), for the lineage tags."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


class TrainingDiverged(GateRejected):
    """The loss became NaN or infinite: the training-sanity gate rejects the run."""

    gate = "sanity"


def choose_device(preference: str) -> torch.device:
    """cuda when present (or asked for), else cpu; asking for cuda without one is an error."""
    if preference == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("model.torch_mlp.device is 'cuda' but no CUDA device is available")
    if preference in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    """Seed every RNG the training touches."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@contextlib.contextmanager
def _deterministic(enabled: bool) -> Iterator[None]:
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(enabled)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)


def _evaluate(
    net: nn.Module, features: torch.Tensor, target: torch.Tensor, batch_size: int
) -> tuple[float, float, float]:
    net.eval()
    logits = []
    with torch.inference_mode():
        for start in range(0, len(features), batch_size):
            logits.append(net(features[start : start + batch_size]).float())
    all_logits = torch.cat(logits)
    loss = nn.functional.binary_cross_entropy_with_logits(all_logits, target).item()
    probs = torch.sigmoid(all_logits).cpu().numpy()
    y = target.cpu().numpy()
    auc = float(roc_auc_score(y, probs)) if len(np.unique(y)) == 2 else float("nan")
    accuracy = float(((probs >= 0.5) == (y >= 0.5)).mean())
    return loss, auc, accuracy


def train_torch_mlp(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    config: TorchMLPConfig,
    seed: int,
    checkpoint_dir: Path | CheckpointFolder | None = None,
    checkpoint_key: str = "default",
    on_epoch: Callable[[EpochMetrics], None] | None = None,
    show_progress: bool | None = None,
) -> tuple[TorchTabularClassifier, TrainingHistory]:
    """Train with early stopping on validation loss and return the best weights."""
    device = choose_device(config.device)
    on_gpu = device.type == "cuda"
    batch_size = config.gpu_batch_size if on_gpu else config.batch_size
    history = TrainingHistory(
        device=device.type,
        device_name=torch.cuda.get_device_name(device) if on_gpu else "cpu",
        mixed_precision=on_gpu,  # bf16 autocast below: no GradScaler needed, unlike fp16
        batch_size=batch_size,
        cuda_version=str(torch.version.cuda) if on_gpu else "none",
    )
    seed_everything(seed)
    net = TabularMLP(x_train.shape[1], config.hidden_units, config.dropout).to(device)
    optimizer = torch.optim.AdamW(
        net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    generator = torch.Generator().manual_seed(seed)
    xt = torch.tensor(x_train, dtype=torch.float32, device=device)
    yt = torch.tensor(y_train, dtype=torch.float32, device=device)
    xv = torch.tensor(x_val, dtype=torch.float32, device=device)
    yv = torch.tensor(y_val, dtype=torch.float32, device=device)

    checkpoint = (
        CheckpointFolder.local(checkpoint_dir)
        if isinstance(checkpoint_dir, Path)
        else checkpoint_dir
    )
    best_loss, best_state, stale, start_epoch = math.inf, None, 0, 1
    resumed = checkpoint.load(checkpoint_key) if checkpoint is not None else None
    if resumed is not None:
        net.load_state_dict(resumed["model"])
        optimizer.load_state_dict(resumed["optimizer"])
        generator.set_state(resumed["generator"])
        torch.set_rng_state(resumed["torch_rng"])
        best_loss, best_state, stale = resumed["best_loss"], resumed["best_state"], resumed["stale"]
        history.epochs = [EpochMetrics(**e) for e in resumed["epochs"]]
        history.best_epoch = resumed["best_epoch"]
        start_epoch = resumed["epoch"] + 1
        history.resumed_from_epoch = resumed["epoch"]

    autocast = (
        torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        if on_gpu
        else contextlib.nullcontext()
    )
    epochs = range(start_epoch, config.max_epochs + 1)
    with _deterministic(not on_gpu):
        disable = None if show_progress is None else not show_progress
        bar = tqdm(epochs, desc="train", unit="epoch", disable=disable)
        for epoch in bar:
            if stale >= config.patience:
                history.stopped_early = True
                break
            started = time.perf_counter()
            net.train()
            order = torch.randperm(len(xt), generator=generator).to(device)
            total, seen = 0.0, 0
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                optimizer.zero_grad(set_to_none=True)
                with autocast:
                    logits = net(xt[idx]).float()
                loss = nn.functional.binary_cross_entropy_with_logits(logits, yt[idx])
                if not torch.isfinite(loss):
                    raise TrainingDiverged(f"loss became {loss.item()} at epoch {epoch}")
                loss.backward()
                optimizer.step()
                total += loss.item() * len(idx)
                seen += len(idx)
            with autocast:
                val_loss, val_auc, val_acc = _evaluate(net, xv, yv, batch_size * 4)
            if not math.isfinite(val_loss):
                raise TrainingDiverged(f"validation loss became {val_loss} at epoch {epoch}")
            seconds = time.perf_counter() - started
            metrics = EpochMetrics(
                epoch=epoch,
                train_loss=total / max(seen, 1),
                val_loss=val_loss,
                val_auc=val_auc,
                val_accuracy=val_acc,
                seconds=seconds,
                samples_per_second=seen / seconds if seconds > 0 else 0.0,
            )
            history.epochs.append(metrics)
            if val_loss < best_loss - 1e-6:
                best_loss, stale, history.best_epoch = val_loss, 0, epoch
                best_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
            else:
                stale += 1
            bar.set_postfix(val_loss=f"{val_loss:.4f}", val_auc=f"{val_auc:.4f}")
            if checkpoint is not None:
                checkpoint.save(
                    checkpoint_key,
                    {
                        "key": checkpoint_key,
                        "epoch": epoch,
                        "model": net.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "generator": generator.get_state(),
                        "torch_rng": torch.get_rng_state(),
                        "best_loss": best_loss,
                        "best_state": best_state,
                        "stale": stale,
                        "best_epoch": history.best_epoch,
                        "epochs": [asdict(e) for e in history.epochs],
                    },
                )
            if on_epoch is not None:
                on_epoch(metrics)
        else:
            history.stopped_early = stale >= config.patience
    if best_state is None:
        best_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    if checkpoint is not None:
        checkpoint.remove(checkpoint_key)
    model = TorchTabularClassifier(
        x_train.shape[1], config.hidden_units, config.dropout, best_state
    )
    return model, history
