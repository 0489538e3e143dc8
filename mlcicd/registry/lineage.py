"""Lineage facts recorded on every registered version.

Git facts are collected where the run is launched (step pods on Kubernetes have no .git), library
versions where the model is trained.
"""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata

from mlcicd.paths import REPO_ROOT


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args],  # noqa: S607 - the git on PATH, as a developer runs it
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_lineage() -> dict[str, str]:
    """Commit SHA and whether the working tree had uncommitted changes."""
    sha = _git("rev-parse", "HEAD")
    if sha is None:
        return {"git_sha": "unknown", "git_dirty": "unknown"}
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"git_sha": sha, "git_dirty": "unknown" if status is None else str(bool(status)).lower()}


def library_versions() -> dict[str, str]:
    """Versions of the interpreter and the libraries that shape the model."""
    versions = {"python_version": platform.python_version()}
    for dist, tag in (
        ("torch", "torch_version"),
        ("scikit-learn", "sklearn_version"),
        ("mlflow", "mlflow_version"),
        ("zenml", "zenml_version"),
        ("pandas", "pandas_version"),
        ("onnx", "onnx_version"),
        ("onnxruntime", "onnxruntime_version"),
    ):
        try:
            versions[tag] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[tag] = "not installed"
    return versions


def training_lineage(training: dict[str, object]) -> dict[str, str]:
    """Where the model was trained: device, GPU name and CUDA version ("none" on CPU)."""
    device = str(training.get("device", "unknown"))
    return {
        "training_device": device,
        "training_device_name": str(training.get("device_name", "unknown")),
        "training_gpu_name": str(training.get("device_name")) if device == "cuda" else "none",
        "training_cuda_version": str(training.get("cuda_version", "none")),
        "training_mixed_precision": str(bool(training.get("mixed_precision", False))).lower(),
    }
