"""The repository root and ML_CICD_HOME, defined once for every layer.

ML_CICD_HOME holds everything the local stack writes (MLflow database, artifacts, model-server
state, audit log, release jobs); it defaults to `.local/` in the repository and is never read at
import time, so a test or a CLI flag can point it elsewhere before the first use.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = REPO_ROOT / "configs"
STACKS_DIR = REPO_ROOT / "stacks"
INFERENCE_DIR = REPO_ROOT / "inference"
ENV_HOME = "ML_CICD_HOME"


def ml_cicd_home() -> Path:
    """Where the local stack keeps its state (ML_CICD_HOME, else <repo>/.local)."""
    return Path(os.environ.get(ENV_HOME) or REPO_ROOT / ".local").resolve()


def home_dir(*parts: str) -> Path:
    """A folder under ML_CICD_HOME, created on first use."""
    path = ml_cicd_home().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def prepare_environment() -> None:
    """Quiet, private defaults for anything the user did not set explicitly."""
    os.environ.setdefault(ENV_HOME, str(ml_cicd_home()))
    os.environ.setdefault("ZENML_ANALYTICS_OPT_IN", "false")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("ZENML_ENABLE_RICH_TRACEBACK", "false")
