"""The router's route table: which variants exist, their roles and weights, and the picker.

Pure (no aiohttp, no I/O but `load_routes`) so the deployer, the router and the tests share one
validated definition of the routes file. The file is JSON:

    {"environment": "production", "generation": 7, "upstream_timeout_seconds": 10.0,
     "max_body_bytes": 16777216, "shadow_log": "/abs/path/shadow.jsonl",
     "variants": [{"version": "3", "port": 41231, "role": "stable", "weight": 90}, ...]}

Every variant is a loopback process, so its host is always 127.0.0.1.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

UPSTREAM_HOST = "127.0.0.1"
STABLE, CANARY, SHADOW, PREVIOUS = "stable", "canary", "shadow", "previous"
ROLES = (STABLE, CANARY, SHADOW, PREVIOUS)
TOTAL_WEIGHT = 100
DEFAULT_UPSTREAM_TIMEOUT_S = 10.0
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024

_TABLE_KEYS = {
    "environment",
    "generation",
    "upstream_timeout_seconds",
    "max_body_bytes",
    "shadow_log",
    "variants",
}
_VARIANT_KEYS = {"version", "port", "role", "weight"}


class RoutesError(ValueError):
    """A routes file or table that breaks a rule; the message names the rule and the value."""


def _is_int(value: object) -> bool:
    """An int that is not a bool (JSON `true` must not pass as weight 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Variant:
    """One model-server process serving one model version on a loopback port."""

    version: str
    port: int
    role: str
    weight: int

    def __post_init__(self) -> None:
        if not isinstance(self.version, str) or not self.version.strip():
            raise RoutesError(f"variant version must be a non-empty string, got {self.version!r}")
        label = f"variant {self.version!r}"
        if self.role not in ROLES:
            raise RoutesError(f"{label}: role {self.role!r} is not one of {', '.join(ROLES)}")
        if not _is_int(self.port) or not 1 <= self.port <= 65535:
            raise RoutesError(f"{label}: port must be an integer in 1..65535, got {self.port!r}")
        if not _is_int(self.weight) or not 0 <= self.weight <= TOTAL_WEIGHT:
            raise RoutesError(
                f"{label}: weight must be an integer in 0..{TOTAL_WEIGHT}, got {self.weight!r}"
            )
        if self.role in (SHADOW, PREVIOUS) and self.weight != 0:
            raise RoutesError(
                f"{label}: a {self.role} variant takes no client traffic, its weight must be 0 "
                f"(got {self.weight})"
            )

    @property
    def host(self) -> str:
        """Always loopback: variants are processes on this machine."""
        return UPSTREAM_HOST

    @property
    def base_url(self) -> str:
        """Where the router forwards to, without a path."""
        return f"http://{UPSTREAM_HOST}:{self.port}"

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Variant:
        """A variant from its JSON object; an int version is accepted and made a string."""
        if not isinstance(raw, Mapping):
            raise RoutesError(f"a variant must be a JSON object, got {type(raw).__name__}")
        missing = sorted(_VARIANT_KEYS - raw.keys())
        if missing:
            raise RoutesError(f"variant {dict(raw)!r} is missing {', '.join(missing)}")
        unknown = sorted(set(raw) - _VARIANT_KEYS)
        if unknown:
            raise RoutesError(f"variant {dict(raw)!r} has unknown keys {', '.join(unknown)}")
        version = raw["version"]
        if _is_int(version):
            version = str(version)
        return cls(version=version, port=raw["port"], role=raw["role"], weight=raw["weight"])

    def to_dict(self) -> dict[str, Any]:
        """The variant's JSON object in the routes file."""
        return {
            "version": self.version,
            "port": self.port,
            "role": self.role,
            "weight": self.weight,
        }


@dataclass(frozen=True)
class RouteTable:
    """One environment's validated routes; swapped whole by the router on reload."""

    environment: str
    generation: int
    variants: tuple[Variant, ...]
    upstream_timeout_seconds: float = DEFAULT_UPSTREAM_TIMEOUT_S
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    shadow_log: str | None = None
    _by_version: dict[str, Variant] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.environment, str) or not self.environment.strip():
            raise RoutesError(f"environment must be a non-empty string, got {self.environment!r}")
        if not _is_int(self.generation) or self.generation < 0:
            raise RoutesError(f"generation must be a non-negative integer, got {self.generation!r}")
        timeout = self.upstream_timeout_seconds
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            raise RoutesError(
                f"upstream_timeout_seconds must be a positive number, got {timeout!r}"
            )
        if not _is_int(self.max_body_bytes) or self.max_body_bytes <= 0:
            raise RoutesError(
                f"max_body_bytes must be a positive integer, got {self.max_body_bytes!r}"
            )
        if self.shadow_log is not None and (
            not isinstance(self.shadow_log, str) or not Path(self.shadow_log).is_absolute()
        ):
            raise RoutesError(
                f"shadow_log must be an absolute path or null, got {self.shadow_log!r}"
            )
        object.__setattr__(self, "variants", tuple(self.variants))
        self._check_variants()
        object.__setattr__(self, "_by_version", {v.version: v for v in self.variants})

    def _check_variants(self) -> None:
        if not self.variants:
            raise RoutesError("variants must list at least the stable variant")
        for variant in self.variants:
            if not isinstance(variant, Variant):
                raise RoutesError(f"variants must be Variant objects, got {variant!r}")
        _check_unique("version", [v.version for v in self.variants])
        _check_unique("port", [v.port for v in self.variants])
        roles = [v.role for v in self.variants]
        if roles.count(STABLE) != 1:
            raise RoutesError(
                f"exactly one stable variant is required, found {roles.count(STABLE)}"
            )
        for role in (CANARY, SHADOW):
            if roles.count(role) > 1:
                raise RoutesError(
                    f"at most one {role} variant is allowed, found {roles.count(role)}"
                )
        total = sum(v.weight for v in self.variants if v.role != SHADOW)
        if total != TOTAL_WEIGHT:
            weights = ", ".join(
                f"{v.version}={v.weight}" for v in self.variants if v.role != SHADOW
            )
            raise RoutesError(
                f"weights of the non-shadow variants must sum to {TOTAL_WEIGHT}, "
                f"got {total} ({weights})"
            )

    # -- lookups --------------------------------------------------------------------------------

    def variant(self, version: str) -> Variant | None:
        """The variant serving `version`, if any."""
        return self._by_version.get(version)

    def _role(self, role: str) -> Variant | None:
        return next((v for v in self.variants if v.role == role), None)

    @property
    def stable(self) -> Variant:
        """The variant answering health and metadata, and the fallback of every retry."""
        found = self._role(STABLE)
        if found is None:  # unreachable: __post_init__ requires exactly one
            raise RoutesError("the table has no stable variant")
        return found

    @property
    def canary(self) -> Variant | None:
        """The variant taking a small share of client traffic during a rollout, if any."""
        return self._role(CANARY)

    @property
    def shadow(self) -> Variant | None:
        """The variant that gets a mirror of every prediction and answers no client."""
        return self._role(SHADOW)

    @property
    def previous(self) -> Variant | None:
        """The warm standby (weight 0) kept for an instant switch-back, if any."""
        return self._role(PREVIOUS)

    @property
    def weighted(self) -> tuple[Variant, ...]:
        """The variants that take client traffic: non-shadow with a weight above 0."""
        return tuple(v for v in self.variants if v.role != SHADOW and v.weight > 0)

    # -- (de)serialisation ----------------------------------------------------------------------

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> RouteTable:
        """A validated table from the routes file's JSON object; unknown keys are refused."""
        if not isinstance(raw, Mapping):
            raise RoutesError(f"the routes must be a JSON object, got {type(raw).__name__}")
        missing = sorted({"environment", "generation", "variants"} - raw.keys())
        if missing:
            raise RoutesError(f"the routes are missing {', '.join(missing)}")
        unknown = sorted(set(raw) - _TABLE_KEYS)
        if unknown:
            raise RoutesError(f"the routes have unknown keys {', '.join(unknown)}")
        variants = raw["variants"]
        if not isinstance(variants, Sequence) or isinstance(variants, str | bytes):
            raise RoutesError(f"variants must be a JSON list, got {type(variants).__name__}")
        return cls(
            environment=raw["environment"],
            generation=raw["generation"],
            variants=tuple(Variant.from_dict(v) for v in variants),
            upstream_timeout_seconds=raw.get(
                "upstream_timeout_seconds", DEFAULT_UPSTREAM_TIMEOUT_S
            ),
            max_body_bytes=raw.get("max_body_bytes", DEFAULT_MAX_BODY_BYTES),
            shadow_log=raw.get("shadow_log"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The routes file's JSON object; `from_dict(to_dict())` is the same table."""
        return {
            "environment": self.environment,
            "generation": self.generation,
            "upstream_timeout_seconds": float(self.upstream_timeout_seconds),
            "max_body_bytes": self.max_body_bytes,
            "shadow_log": self.shadow_log,
            "variants": [v.to_dict() for v in self.variants],
        }


def _check_unique(what: str, values: Sequence[object]) -> None:
    seen: set[object] = set()
    duplicated: set[str] = set()
    for value in values:
        if value in seen:
            duplicated.add(str(value))
        seen.add(value)
    duplicates = sorted(duplicated)
    if duplicates:
        raise RoutesError(f"variant {what}s must be unique, duplicated: {', '.join(duplicates)}")


def load_routes(path: Path) -> RouteTable:
    """Read and validate a routes file; RoutesError names the file and what is wrong with it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise RoutesError(f"cannot read the routes file {path}: {error}") from error
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise RoutesError(f"the routes file {path} is not valid JSON: {error}") from error
    try:
        return RouteTable.from_dict(raw)
    except RoutesError as error:
        raise RoutesError(f"the routes file {path} is invalid: {error}") from error


class WeightedPicker:
    """Smooth weighted round-robin (nginx's): deterministic, exact over every `total` picks.

    Each pick adds every weight to its variant's running score, takes the highest (the first on a
    tie) and subtracts the total from it. The sequence repeats every `total` picks, so any window
    of 100 consecutive requests holds exactly the configured split (90/10 gives 10 canary
    requests, spread out rather than in a burst), which random choice cannot promise for the
    small windows a canary analysis looks at. Not thread-safe: the router calls it on its loop.
    """

    def __init__(self, variants: Sequence[Variant]) -> None:
        chosen = [v for v in variants if v.weight > 0]
        if not chosen:
            raise RoutesError("no variant has a weight above 0 to pick from")
        self._variants = tuple(chosen)
        self._weights = tuple(v.weight for v in chosen)
        self._total = sum(self._weights)
        self._current = [0] * len(chosen)

    @classmethod
    def for_table(cls, table: RouteTable) -> WeightedPicker:
        """A picker over the table's client-traffic variants."""
        return cls(table.weighted)

    def pick(self) -> Variant:
        """The variant for the next request."""
        current, weights = self._current, self._weights
        best = 0
        for index, weight in enumerate(weights):
            current[index] += weight
            if current[index] > current[best]:
                best = index
        current[best] -= self._total
        return self._variants[best]
