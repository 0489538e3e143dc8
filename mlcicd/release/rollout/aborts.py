"""An abort requested by a person (the console's "Abort rollout"), seen by the running engine.

A request is a small file beside the audit log; the engine checks it every analysis interval
and rolls back exactly as on a breach. A file, not a field of the rollout record, so that the
engine's own writes of that record can never overwrite the request.
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Any

from mlcicd.release.audit import audit_dir, now_utc


def _abort_file(model_name: str, environment: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{model_name}-{environment}")
    folder = audit_dir() / "rollouts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{safe}.abort"


def request_abort(model_name: str, environment: str, actor: str, reason: str) -> None:
    """Ask the running rollout to roll back at its next check."""
    payload = {"actor": actor, "reason": reason, "at": now_utc()}
    path = _abort_file(model_name, environment)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload), encoding="utf-8")
    tmp.replace(path)


def abort_requested(model_name: str, environment: str) -> dict[str, Any] | None:
    """The pending request (who, why, when), or None."""
    try:
        raw = json.loads(_abort_file(model_name, environment).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return raw if isinstance(raw, dict) else {"actor": "?", "reason": "", "at": ""}


def clear_abort(model_name: str, environment: str) -> None:
    """Forget a request (a new rollout starts clean)."""
    with contextlib.suppress(FileNotFoundError):
        _abort_file(model_name, environment).unlink()
