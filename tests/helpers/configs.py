"""Test configs: configs/local.yaml with overrides that keep training fast on a small sample."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.helpers.session import REPO_ROOT, SERVING_PORTS


def local_config() -> dict[str, Any]:
    """configs/local.yaml as a mapping."""
    raw: dict[str, Any] = yaml.safe_load((REPO_ROOT / "configs" / "local.yaml").read_text())
    return raw


def fast_overrides(checkpoints: Path) -> dict[str, Any]:
    """A small network, private checkpoints and ports, bars a 2,500-row sample can meet."""
    return {
        "model": {"torch_mlp": {"max_epochs": 6, "patience": 2, "hidden_units": [32]}},
        "training": {"checkpoint_dir": str(checkpoints)},
        "deployment": {"local_ports": SERVING_PORTS},
        # promotions in these tests have no client traffic to judge a canary by; the rollout
        # strategies are tested with real traffic in tests/rollout
        "rollout": {"strategy": "direct"},
        "gates": {
            "thresholds": {
                "minimums": {"roc_auc": 0.75, "accuracy": 0.75, "f1": 0.30},
                "maximums": {"log_loss": 0.60},
            },
            # generous: the machine is shared with other tests; test_gates_pipeline sets tight ones
            "latency": {
                "single_row_requests": 50,
                "batch_repeats": 2,
                "max_p95_ms": 1000,
                "max_p99_ms": 2000,
                "min_batch_rows_per_second": 100,
            },
        },
    }


def csv_data_overrides(train: Path, golden: Path) -> dict[str, Any]:
    """Point the config at header CSV files written by a test."""
    return {
        "data": {
            "train": {"path": str(train), "skip_rows": 0},
            "golden": {"path": str(golden), "skip_rows": 0},
            "csv": {"header": True, "skip_initial_space": True, "na_values": ["?"]},
        }
    }
