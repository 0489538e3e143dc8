"""Signed-in reviewers for tests that change state through run.py (promote, rollback, decide)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from mlcicd.release.reviewers import ENV_REVIEWERS_FILE, add_reviewer

PASSWORD = "a long enough password"


def write_reviewers(folder: Path, monkeypatch: pytest.MonkeyPatch, *ids: str) -> Path:
    """A reviewers file holding `ids` (all with PASSWORD), used by every run.py call after."""
    path = folder / "reviewers.yaml"
    for reviewer in ids:
        add_reviewer(path, reviewer, PASSWORD)
    monkeypatch.setenv(ENV_REVIEWERS_FILE, str(path))
    return path


def as_reviewer(monkeypatch: pytest.MonkeyPatch, reviewer: str, argv: list[str]) -> int:
    """`run.py ARGV --reviewer R --password-stdin`, with the password on stdin."""
    from mlcicd.cli import main as run

    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    return run.main([*argv, "--reviewer", reviewer, "--password-stdin"])
