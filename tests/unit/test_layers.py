"""The import-layer contract in pyproject.toml really holds, and really catches an upward import.

Runs the project's own `lint-imports` on a copy of the packages, once as they are and once with
one deliberate upward import added (config importing the CLI), so the contract cannot be a no-op.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlcicd.paths import REPO_ROOT

PACKAGES = ("mlcicd", "steps", "pipelines", "console", "inference")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _copy_tree(target: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(
            REPO_ROOT / package,
            target / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.css", "*.png"),
        )
    shutil.copy2(REPO_ROOT / "pyproject.toml", target / "pyproject.toml")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("layers")
    _copy_tree(root)
    return root


def test_the_layers_hold_as_the_code_is(tree: Path) -> None:
    result = _lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "upward_import"),
    [
        ("mlcicd/config/_probe.py", "import mlcicd.cli.main\n"),
        ("steps/_probe.py", "from mlcicd.runner import launch\n"),
        ("mlcicd/serving/server/_probe.py", "from mlcicd.config import RunConfig\n"),
    ],
)
def test_an_upward_import_breaks_the_contract(tree: Path, module: str, upward_import: str) -> None:
    probe = tree / module
    probe.write_text(upward_import)
    try:
        result = _lint(tree)
    finally:
        probe.unlink()
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    probe_module = module.removesuffix(".py").replace("/", ".")
    assert probe_module in result.stdout


def _decorator_name(node: ast.expr) -> str:
    target = node.func if isinstance(node, ast.Call) else node
    return target.id if isinstance(target, ast.Name) else ""


def _decorated_functions(path: Path, decorator: str) -> tuple[list[str], list[str]]:
    """(functions decorated with `decorator`, every other top-level function or class)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    decorated: list[str] = []
    others: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names = {_decorator_name(d) for d in node.decorator_list}
            (decorated if decorator in names else others).append(node.name)
    return decorated, others


STEP_FILES = sorted(p for p in (REPO_ROOT / "steps").rglob("*.py") if p.name != "__init__.py")
PIPELINE_FILES = sorted(
    p for p in (REPO_ROOT / "pipelines").glob("*.py") if p.name != "__init__.py"
)


@pytest.mark.parametrize("path", STEP_FILES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_file_under_steps_defines_exactly_one_step(path: Path) -> None:
    steps, _ = _decorated_functions(path, "step")
    assert len(steps) == 1, f"{path.relative_to(REPO_ROOT)} defines steps {steps}"
    assert steps[0] == path.stem, "a step file is named after its step"


@pytest.mark.parametrize("path", PIPELINE_FILES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_file_under_pipelines_defines_pipelines_only(path: Path) -> None:
    pipelines, others = _decorated_functions(path, "pipeline")
    assert pipelines, f"{path.relative_to(REPO_ROOT)} defines no pipeline"
    assert not others, f"{path.relative_to(REPO_ROOT)} also defines {others}"


def test_no_library_module_is_too_big_to_hold_in_ones_head() -> None:
    sizes = {
        str(p.relative_to(REPO_ROOT)): len(p.read_text(encoding="utf-8").splitlines())
        for p in (REPO_ROOT / "mlcicd").rglob("*.py")
    }
    assert len(sizes) > 40
    assert {name: n for name, n in sizes.items() if n > 420} == {}
