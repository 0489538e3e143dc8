"""Where an interrupted training keeps its checkpoint: a local folder or the artifact store.

Locally the folder is `training.checkpoint_dir`, so a re-run with the same data and config
resumes. In a pod that folder dies with the pod, so with `training.checkpoints: artifact_store`
(the gpu-k8s default) the checkpoint goes to `<artifact store>/checkpoints/<pipeline run id>/`:
the Job's next pod of the same run (a lost node, an evicted GPU pod) resumes from it. The
artifact store's own file API is used, so its credentials and endpoint apply.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, override


class FileStore(Protocol):
    """The file calls of a ZenML artifact store (`BaseArtifactStore`) a checkpoint needs."""

    def open(self, path: str, mode: str = "r") -> Any:
        """A file object."""

    def exists(self, path: str) -> bool:
        """The path exists."""

    def makedirs(self, path: str) -> None:
        """Create the folder and its parents."""

    def remove(self, path: str) -> None:
        """Delete one file."""

    def rename(self, src: str, dst: str, overwrite: bool = False) -> None:
        """Move a file (replacing dst when `overwrite`)."""


class LocalFiles(FileStore):
    """The local filesystem with the artifact store's method names."""

    @override
    def open(self, path: str, mode: str = "r") -> Any:
        return Path(path).open(mode)

    @override
    def exists(self, path: str) -> bool:
        return Path(path).exists()

    @override
    def makedirs(self, path: str) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)

    @override
    def remove(self, path: str) -> None:
        Path(path).unlink()

    @override
    def rename(self, src: str, dst: str, overwrite: bool = False) -> None:
        if not overwrite and Path(dst).exists():
            raise FileExistsError(dst)
        Path(src).replace(dst)


@dataclass(frozen=True)
class CheckpointFolder:
    """A folder on some file store; one checkpoint file per training key."""

    directory: str
    files: FileStore

    @classmethod
    def local(cls, directory: str | Path) -> CheckpointFolder:
        """A folder on this machine's disk."""
        return cls(str(directory), LocalFiles())

    def path(self, key: str) -> str:
        """The checkpoint file of one training."""
        return f"{self.directory.rstrip('/')}/{key}.pt"

    def save(self, key: str, state: dict[str, Any]) -> None:
        """Write the whole state, then move it into place: a crash never leaves a torn file."""
        import torch

        buffer = io.BytesIO()
        torch.save(state, buffer)
        self.files.makedirs(self.directory)
        target = self.path(key)
        temporary = f"{target}.tmp"
        with self.files.open(temporary, "wb") as handle:
            handle.write(buffer.getvalue())
        self.files.rename(temporary, target, overwrite=True)

    def load(self, key: str) -> dict[str, Any] | None:
        """The saved state of this key; None when there is none, or it is torn or foreign."""
        import torch

        target = self.path(key)
        try:
            if not self.files.exists(target):
                return None
            with self.files.open(target, "rb") as handle:
                raw = handle.read()
            state: dict[str, Any] = torch.load(
                io.BytesIO(raw), map_location="cpu", weights_only=False
            )
        except Exception:  # a torn or foreign file is ignored, never trusted
            return None
        return state if isinstance(state, dict) and state.get("key") == key else None

    def remove(self, key: str) -> None:
        """Delete the checkpoint of a finished training (nothing to do when there is none)."""
        target = self.path(key)
        if self.files.exists(target):
            self.files.remove(target)


def run_checkpoint_folder(artifact_store: Any, run_id: str) -> CheckpointFolder:
    """`<artifact store>/checkpoints/<run id>`: the pods of one run share it, other runs do not."""
    return CheckpointFolder(
        f"{str(artifact_store.path).rstrip('/')}/checkpoints/{run_id}", artifact_store
    )
