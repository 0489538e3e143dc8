"""What runs in one local environment, as persisted: the router, every variant, the rollout.

`deployment.json` is the local backend's source of truth (which processes it started, on which
ports, with which traffic). The router reads only its own derived file, `routes.json`. Both are
written atomically (a temporary file renamed over the old one), so a reader never sees half a
record and a crash never leaves one.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

STABLE, CANARY, SHADOW, PREVIOUS, IDLE = "stable", "canary", "shadow", "previous", "idle"
ROUTED_ROLES = (STABLE, CANARY, SHADOW, PREVIOUS)


def now_utc() -> str:
    """Seconds-precision UTC timestamp for the records."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class VariantRecord:
    """One model server process: one version on its own loopback port."""

    version: str
    model_name: str
    model_uri: str
    port: int
    pid: int
    pid_start_ticks: int
    started_at: str
    server_log: str
    request_log: str
    role: str = IDLE  # idle: started (smoke test, warm-up) but not routed
    weight: int = 0
    retire_at: str = ""  # a warm `previous` version is stopped after this time


@dataclass
class RouterRecord:
    """The router process that owns the environment's stable port."""

    port: int
    pid: int
    pid_start_ticks: int
    started_at: str
    log: str


@dataclass
class EnvironmentRecord:
    """Everything the local backend started for one environment."""

    environment: str
    router: RouterRecord | None = None
    variants: list[VariantRecord] = field(default_factory=list)
    generation: int = 0
    stopped_at: str = ""
    rollout: dict[str, Any] | None = None  # the rollout in progress (the engine's record)

    def variant(self, version: str) -> VariantRecord | None:
        """The running record of `version`, if any."""
        return next((v for v in self.variants if v.version == version), None)

    def by_role(self, role: str) -> VariantRecord | None:
        """The variant holding `role` (stable, canary, shadow, previous), if any."""
        return next((v for v in self.variants if v.role == role), None)

    @property
    def stable(self) -> VariantRecord | None:
        """The variant the environment answers with when everything else fails."""
        return self.by_role(STABLE)

    def routes(self, upstream_timeout: float, max_body_bytes: int, shadow_log: str) -> dict:
        """The router's view: routed variants only, in the routes-file format."""
        return {
            "environment": self.environment,
            "generation": self.generation,
            "upstream_timeout_seconds": upstream_timeout,
            "max_body_bytes": max_body_bytes,
            "shadow_log": shadow_log,
            "variants": [
                {"version": v.version, "port": v.port, "role": v.role, "weight": v.weight}
                for v in self.variants
                if v.role in ROUTED_ROLES
            ],
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> EnvironmentRecord:
        """The inverse of to_dict; raises TypeError/KeyError/ValueError on a damaged file."""
        router = RouterRecord(**raw["router"]) if raw.get("router") else None
        variants = [VariantRecord(**v) for v in raw.get("variants", [])]
        return cls(
            environment=str(raw["environment"]),
            router=router,
            variants=variants,
            generation=int(raw.get("generation", 0)),
            stopped_at=str(raw.get("stopped_at", "")),
            rollout=raw.get("rollout"),
        )


def write_json_atomically(path: Path, payload: dict[str, Any]) -> None:
    """Write, fsync, rename: readers see the old file or the new one, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def read_record(path: Path) -> EnvironmentRecord | None:
    """The environment's record, None when nothing was deployed; a damaged file is an error."""
    if not path.is_file():
        return None
    try:
        return EnvironmentRecord.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"{path} is damaged ({type(exc).__name__}: {exc})") from exc


def legacy_record(folder: Path, environment: str) -> EnvironmentRecord | None:
    """A server started before routers existed (`state.json`): one stable variant, no router.

    The next deploy or restart moves it behind a router (the one moment the port changes
    hands, well under a second).
    """
    path = folder / "state.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    try:
        variant = VariantRecord(
            version=str(raw["model_version"]),
            model_name=str(raw["model_name"]),
            model_uri=str(raw["model_uri"]),
            port=int(raw["port"]),
            pid=int(raw["pid"]),
            pid_start_ticks=int(raw["pid_start_ticks"]),
            started_at=str(raw.get("started_at", "")),
            server_log=str(raw.get("server_log", "")),
            request_log=str(raw.get("request_log", "")),
            role=STABLE,
            weight=100,
        )
    except (KeyError, TypeError, ValueError):
        return None
    return EnvironmentRecord(
        environment, variants=[variant], stopped_at=str(raw.get("stopped_at", ""))
    )
