"""Finding, reading and merging config files: environment names, paths and `extends:` chains.

A config file may say `extends: <name or path>`. Its base is loaded first (bases may extend
further bases), then the file's own mapping is deep-merged over it: mappings merge key by key,
lists, scalars and null replace. Environments that share most settings (staging and production)
keep them once in a base under configs/base/ and state only what differs; a subfolder, because
every configs/*.yaml is listed as a selectable environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mlcicd.config.base import ConfigError, read_yaml
from mlcicd.config.run_config import RunConfig, check_config_against_schema, validate_run_config
from mlcicd.config.schema import DataSchema, load_schema
from mlcicd.paths import CONFIG_DIR

EXTENDS_KEY = "extends"
_YAML_SUFFIXES = {".yaml", ".yml"}


def available_configs() -> list[str]:
    """Names of the environment configs shipped in configs/ (bases in subfolders are not)."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def resolve_config_path(name_or_path: str) -> Path:
    """Accept an environment name (configs/<name>.yaml) or a path to a YAML file."""
    candidate = Path(name_or_path).expanduser()
    if candidate.suffix in _YAML_SUFFIXES:
        path = candidate if candidate.is_absolute() else Path.cwd() / candidate
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        return path
    path = CONFIG_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ConfigError(
            f"unknown config '{name_or_path}'; available: {', '.join(available_configs())}"
        )
    return path


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """`overlay` over `base`: mappings merge key by key; lists, scalars and null replace."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _describe(path: Path, chain: tuple[Path, ...]) -> str:
    """The file an `extends` error is about, and the file the user passed when they differ."""
    if not chain:
        return f"config file {path}"
    return f"config file {path} (a base of {chain[0]})"


def _resolve_base(ref: object, path: Path, chain: tuple[Path, ...]) -> Path:
    """The file that `extends: ref` in `path` names: a config name, or a path from its folder."""
    how = (
        f"set '{EXTENDS_KEY}' to a config name in {CONFIG_DIR} (e.g. 'local') or to a .yaml "
        f"path relative to {path.parent}, or remove the key"
    )
    if not isinstance(ref, str) or not ref.strip():
        raise ConfigError(f"{_describe(path, chain)}: '{EXTENDS_KEY}' is {ref!r}; {how}")
    candidate = Path(ref).expanduser()
    if candidate.suffix in _YAML_SUFFIXES:
        base = candidate if candidate.is_absolute() else path.parent / candidate
    else:
        base = CONFIG_DIR / f"{ref}.yaml"
    if not base.is_file():
        raise ConfigError(
            f"{_describe(path, chain)}: '{EXTENDS_KEY}: {ref}' names a base config that does "
            f"not exist ({base}); {how}"
        )
    return base.resolve()


def read_config_mapping(
    path: Path, chain: tuple[Path, ...] = ()
) -> tuple[dict[str, Any], list[Path]]:
    """The file's mapping merged over its bases (without `extends`), and the bases, nearest last.

    `chain` holds the files that led here, the user's file first, so a cycle is reported with
    every file in it instead of recursing forever.
    """
    raw = read_yaml(path, "config file")
    if EXTENDS_KEY not in raw:
        return raw, []
    ref = raw.pop(EXTENDS_KEY)
    base_path = _resolve_base(ref, path, chain)
    seen = (*chain, path.resolve())
    if base_path in seen:
        cycle = " -> ".join(str(p) for p in (*seen[seen.index(base_path) :], base_path))
        raise ConfigError(
            f"{_describe(path, chain)}: '{EXTENDS_KEY}: {ref}' makes a cycle: {cycle}; "
            f"remove '{EXTENDS_KEY}' from one of these files"
        )
    base, bases = read_config_mapping(base_path, seen)
    return deep_merge(base, raw), [*bases, base_path]


IMAGE_VARIABLES = {
    "ML_CICD_SERVING_IMAGE": ("serving", "image"),
    "ML_CICD_STEP_PARENT_IMAGE": ("image", "parent_image"),
}
"""The images CI built for this commit (.github/workflows/deploy.yml), by digest: they replace
kubernetes.serving.image and the step image's parent, so what runs is what the commit holds."""


def _built_images(raw: dict[str, Any]) -> None:
    for variable, (section, key) in IMAGE_VARIABLES.items():
        value = os.environ.get(variable, "").strip()
        if not value:
            continue
        if "@sha256:" not in value:
            raise ConfigError(
                f"{variable}={value!r} must name an image by digest (<repository>@sha256:...), so "
                "the deployed code cannot drift from the commit that built it"
            )
        kubernetes = raw.setdefault("kubernetes", {})
        block = kubernetes.setdefault(section, {})
        block[key] = value
        if section == "image":
            block["parent_dockerfile"] = None  # the built image replaces the Dockerfile


def load_config(name_or_path: str) -> tuple[RunConfig, DataSchema]:
    """Load an environment config and its declared schema, validated against each other."""
    path = resolve_config_path(name_or_path)
    raw, bases = read_config_mapping(path)
    source = str(path)
    if bases:
        # the user's file first (it is the one they passed); a bad key may come from a base
        source += f" (extends {' -> '.join(str(b) for b in reversed(bases))})"
    _built_images(raw)
    config = validate_run_config(raw, source)
    schema = load_schema(config.data.schema_file())
    check_config_against_schema(config, schema)
    return config, schema
