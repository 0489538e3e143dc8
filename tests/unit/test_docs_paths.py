"""Every repository path the README and docs name in backticks exists, so the docs follow moves."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from mlcicd.paths import REPO_ROOT

DOCS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
# Folders git tracks (test-artifacts/, dry-run/ and .local/ are outputs, written at run time).
TOP_LEVEL = {
    line.split("/", 1)[0]
    for line in subprocess.run(
        ["git", "ls-files"],  # noqa: S607 - the git on PATH
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    if "/" in line
}
# `path/with/slashes.ext` or `folder/` whose first part is a tracked top-level folder.
PATH = re.compile(r"`((?:[\w.-]+/)+[\w.-]*)`")
PLACEHOLDER = re.compile(r"\b[A-Z][A-Z_]+\b")  # configs/NAME.yaml, stacks/NAME.yaml
CREATED_BY_THE_USER = {".streamlit/secrets.toml"}  # documented, deliberately not in the repo


def _named_paths(doc: Path) -> list[str]:
    found = []
    for match in PATH.finditer(doc.read_text(encoding="utf-8")):
        path = match.group(1)
        if path in CREATED_BY_THE_USER or PLACEHOLDER.search(path):
            continue
        if path.split("/", 1)[0] in TOP_LEVEL:
            found.append(path)
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_named_path_exists(doc: Path) -> None:
    missing = [p for p in _named_paths(doc) if not (REPO_ROOT / p).exists()]
    assert not missing, f"{doc.name} names paths that do not exist: {missing}"


def test_the_check_sees_the_layout() -> None:
    named = {p for doc in DOCS for p in _named_paths(doc)}
    assert "mlcicd/serving/kubernetes/manifests.py" in named
    assert "stacks/seldon/Dockerfile" in named
