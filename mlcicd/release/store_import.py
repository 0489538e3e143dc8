"""Import the JSONL audit log of earlier releases into the release store, exactly once.

Before the release store, decisions and releases were lines of `<ML_CICD_HOME>/audit/events.jsonl`.
The file is imported in one transaction keyed by its sha256 (a second import of the same bytes
adds nothing), and the first decision on each version becomes that version's decision.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, fields
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from mlcicd.release.store import (
    AuditEvent,
    DecisionRow,
    ReleaseStore,
    decisions_table,
    events_table,
    imports_table,
    now_utc,
)


def import_jsonl(store: ReleaseStore, path: Path) -> int:
    """Import an earlier JSONL audit log once (keyed by its sha256); returns events added."""
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    records = _parse_jsonl(data)
    try:
        with store.transaction() as connection:
            connection.execute(
                insert(imports_table).values(
                    sha256=digest, path=str(path), events=len(records), imported_at=now_utc()
                )
            )
            decided = {
                (r["model_name"], r["version"])
                for r in connection.execute(select(decisions_table)).mappings()
            }
            for record in records:
                event_id = connection.execute(
                    insert(events_table).values(**asdict(record))
                ).inserted_primary_key[0]
                key = (record.model_name, record.version)
                if record.event in {"approved", "rejected"} and key not in decided:
                    decided.add(key)  # the first decision on a version is the decision
                    row = asdict(DecisionRow.from_event(record))
                    connection.execute(insert(decisions_table).values(**row, event_id=event_id))
    except IntegrityError:
        return 0  # imported before (by another process, or before a crash)
    return len(records)


def _parse_jsonl(data: bytes) -> list[AuditEvent]:
    known = {f.name for f in fields(AuditEvent)}
    records = []
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            raw = json.loads(line)
            records.append(AuditEvent(**{k: str(v) for k, v in raw.items() if k in known}))
        except (ValueError, TypeError):
            continue  # a line cut by a crash is skipped, never fatal
    return records
