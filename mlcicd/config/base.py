"""What every config module shares: the error type, the strict base model, YAML reading.

Kept apart from the domain models so that each of them (and the loader) can import it without
importing each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from mlcicd.errors import MlCicdError
from mlcicd.paths import REPO_ROOT


class ConfigError(MlCicdError):
    """A configuration file is missing, malformed or inconsistent."""


class StrictModel(BaseModel):
    """Unknown keys are errors (a typo never passes silently) and a loaded config is frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def repo_relative(path: Path) -> Path:
    """Absolute paths unchanged; relative ones are relative to the repository root."""
    return path if path.is_absolute() else REPO_ROOT / path


def read_yaml(path: Path, what: str) -> dict[str, Any]:
    """The top-level mapping of a YAML file; any failure is a ConfigError naming `what` and path."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{what} not found: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc}") from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{what} {path} must be a mapping at the top level")
    return raw


def format_validation_error(exc: ValidationError, source: str) -> str:
    """One line per pydantic error, each naming the dotted key, under the source it came from."""
    lines = [f"invalid configuration in {source}:"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  - {loc}: {err['msg']}")
    return "\n".join(lines)
