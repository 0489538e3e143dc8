"""The audit trail of releases: decisions, staging verdicts, promotions, rollbacks and alerts.

Every event is a row of the release store (`mlcicd.release.store`), written in one transaction;
replaying the promote and rollback events answers "which version was live at time T".
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from mlcicd.paths import ml_cicd_home
from mlcicd.release.store import AuditEvent, now_utc, release_store

__all__ = [
    "AuditEvent",
    "append_event",
    "audit_dir",
    "live_version_at",
    "now_utc",
    "previous_live_version",
    "read_events",
]


def audit_dir() -> Path:
    """<ML_CICD_HOME>/audit: files that belong to one machine (rollout abort requests)."""
    path = ml_cicd_home() / "audit"
    path.mkdir(parents=True, exist_ok=True)
    return path


def append_event(event: AuditEvent) -> None:
    """Record one event in the release store; it is committed when this returns."""
    release_store().append(event)


def read_events(model_name: str | None = None) -> list[AuditEvent]:
    """All events in the order they were written (optionally of one model only)."""
    return release_store().events(model_name)


def live_version_at(
    events: list[AuditEvent], at: datetime, environment: str = "production"
) -> str | None:
    """Which version served in `environment` at time `at` (promotions, rollbacks, stops)."""
    live = None
    for event in events:
        if event.event not in {"promoted", "rolled_back", "stopped", "restarted"}:
            continue
        if (event.environment or "production") != environment:
            continue
        if datetime.fromisoformat(event.at) <= at:
            live = None if event.event == "stopped" else event.version
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
