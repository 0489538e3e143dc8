"""An abort requested by a person (the console's "Abort rollout"), seen by the running engine.

A request is a row of the release store (`rollout_aborts`), so the console and a rollout that
runs in a step pod on another machine see the same one; the engine checks it every analysis
interval and rolls back exactly as on a breach. A row of its own, not a field of the rollout
record, so that the engine's own writes of that record can never overwrite the request.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select

from mlcicd.release.audit import now_utc
from mlcicd.release.store import aborts_table, release_store


def _where(model_name: str, environment: str) -> Any:
    return (aborts_table.c.model_name == model_name) & (aborts_table.c.environment == environment)


def request_abort(model_name: str, environment: str, actor: str, reason: str) -> None:
    """Ask the running rollout to roll back at its next check (a newer request replaces one)."""
    row = {"model_name": model_name, "environment": environment, "actor": actor,
           "reason": reason, "at": now_utc()}  # fmt: skip
    with release_store().engine.begin() as connection:
        connection.execute(delete(aborts_table).where(_where(model_name, environment)))
        connection.execute(insert(aborts_table).values(**row))


def abort_requested(model_name: str, environment: str) -> dict[str, Any] | None:
    """The pending request (who, why, when), or None."""
    with release_store().engine.connect() as connection:
        row = connection.execute(
            select(aborts_table.c.actor, aborts_table.c.reason, aborts_table.c.at).where(
                _where(model_name, environment)
            )
        ).first()
    return None if row is None else {"actor": row.actor, "reason": row.reason, "at": row.at}


def clear_abort(model_name: str, environment: str) -> None:
    """Forget a request (a new rollout starts clean)."""
    with release_store().engine.begin() as connection:
        connection.execute(delete(aborts_table).where(_where(model_name, environment)))
