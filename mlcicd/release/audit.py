"""The append-only audit log of releases: decisions, promotions and rollbacks, one JSON line each.

The log is `<ML_CICD_HOME>/audit/events.jsonl`. Lines are appended whole, under a lock and
flushed to disk, so a crash can cut at most the last line, and a cut line is skipped on reading.
Replaying the promote and rollback events answers "which version was live at time T".
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

from mlcicd.paths import ml_cicd_home


def now_utc() -> str:
    """The one timestamp format of decisions and audit events (UTC, seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def audit_dir() -> Path:
    """<ML_CICD_HOME>/audit, created on first use."""
    home = ml_cicd_home()
    path = home / "audit"
    path.mkdir(parents=True, exist_ok=True)
    return path


def audit_log_path() -> Path:
    """The append-only JSONL log of decisions, promotions and rollbacks."""
    return audit_dir() / "events.jsonl"


@dataclass(frozen=True)
class AuditEvent:
    """One line of the audit log."""

    # approved, rejected, promotion_started/_failed, promoted, rollback_started/_failed, rolled_back
    event: str
    model_name: str
    version: str
    actor: str
    at: str
    reason: str = ""
    report_sha256: str = ""
    from_version: str = ""
    environment: str = ""
    detail: str = ""


def append_event(event: AuditEvent) -> None:
    """Append one event as a whole line, under a lock and flushed to disk before returning."""
    line = (json.dumps(asdict(event), sort_keys=True) + "\n").encode()
    with audit_log_path().open("a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            end = handle.seek(0, os.SEEK_END)
            if end:
                handle.seek(end - 1)
                if handle.read(1) != b"\n":  # a line cut by a crash: never glue onto it
                    line = b"\n" + line
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_events(model_name: str | None = None) -> list[AuditEvent]:
    """All events in the order they were written (optionally of one model only)."""
    path = audit_log_path()
    if not path.is_file():
        return []
    known = {f.name for f in fields(AuditEvent)}
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            raw = json.loads(line)
            event = AuditEvent(**{k: str(v) for k, v in raw.items() if k in known})
        except (ValueError, TypeError):
            continue  # a line cut by a crash is skipped, never fatal
        if model_name is None or event.model_name == model_name:
            events.append(event)
    return events


def live_version_at(
    events: list[AuditEvent], at: datetime, environment: str = "production"
) -> str | None:
    """Which version served in `environment` at time `at`, from promote/rollback events."""
    live = None
    for event in events:
        if event.event not in {"promoted", "rolled_back"}:
            continue
        if (event.environment or "production") != environment:
            continue
        if datetime.fromisoformat(event.at) <= at:
            live = event.version
    return live


def previous_live_version(
    events: list[AuditEvent], current: str, environment: str = "production"
) -> str | None:
    """The version that served before `current` last went live: where a rollback goes back to."""
    history: list[str] = []
    for event in events:
        if event.event not in {"promoted", "rolled_back"}:
            continue
        if (event.environment or "production") != environment:
            continue
        if not history or history[-1] != event.version:
            history.append(event.version)
    while history and history[-1] == current:
        history.pop()
        if history:
            return history[-1]
    return None
