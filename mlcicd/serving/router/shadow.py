"""The shadow side of the router: probabilities read from model answers, and the shadow log.

Only the shadow path parses prediction bodies, off the client's critical path. The log is a
JSONL file the analysis compares primary and shadow answers with; lines are buffered in memory
and written by one worker thread, so a slow disk never blocks the router's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 0.2
MAX_BUFFERED_LINES = 10_000


def probabilities(body: bytes) -> list[float] | None:
    """The positive-class probabilities of a model-server answer; None when not one.

    Two shapes are served: `{"jsonData": {"probabilities": [...]}}` and
    `{"data": {"names": ["prediction", "probability"], "ndarray": [[label, p], ...]}}`.
    """
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(payload, dict):
        return None
    found: Any = None
    json_data = payload.get("jsonData")
    data = payload.get("data")
    if isinstance(json_data, dict):
        found = json_data.get("probabilities")
    elif isinstance(data, dict):
        names, rows = data.get("names"), data.get("ndarray")
        if isinstance(names, list) and "probability" in names and isinstance(rows, list):
            column = names.index("probability")
            if all(isinstance(row, list) and len(row) > column for row in rows):
                found = [row[column] for row in rows]
    if not isinstance(found, list):
        return None
    if not all(isinstance(p, int | float) and not isinstance(p, bool) for p in found):
        return None
    values = [float(p) for p in found]
    return values if all(math.isfinite(p) for p in values) else None


@dataclass(frozen=True)
class Side:
    """One side (primary or shadow) of a mirrored prediction; status None: no answer."""

    version: str
    status: int | None
    seconds: float
    body: bytes
    failure: str = ""


def shadow_record(primary: Side, shadow: Side) -> dict[str, Any]:
    """One shadow log line: both answers side by side, probabilities parsed from 200s only."""
    record: dict[str, Any] = {
        "timestamp": datetime.now(UTC).isoformat(),
        "primary_version": primary.version,
        "shadow_version": shadow.version,
        "primary_status": primary.status,
        "shadow_status": shadow.status,
        "primary_ms": round(primary.seconds * 1000.0, 3),
        "shadow_ms": round(shadow.seconds * 1000.0, 3),
        "primary_probabilities": probabilities(primary.body) if primary.status == 200 else None,
        "shadow_probabilities": probabilities(shadow.body) if shadow.status == 200 else None,
    }
    if shadow.status is None:
        record["error"] = shadow.failure or "no answer"
    elif shadow.status >= 500:
        record["error"] = f"shadow answered {shadow.status}"
    return record


class ShadowLog:
    """An append-only JSONL writer fed from the event loop and written by a worker thread.

    `append` only buffers; a background task hands the buffer to the thread every
    FLUSH_INTERVAL_S. The path can change with a reload, so every line carries its own path.
    Past MAX_BUFFERED_LINES (a disk that stopped answering) lines are dropped and counted rather
    than growing the router's memory without bound.
    """

    def __init__(self) -> None:
        self._buffer: list[tuple[str, str]] = []
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shadow-log")
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0
        self.written = 0

    def append(self, path: str, record: dict[str, Any]) -> None:
        """Buffer one record for `path`; never blocks."""
        if len(self._buffer) >= MAX_BUFFERED_LINES:
            self.dropped += 1
            return
        self._buffer.append((path, json.dumps(record, separators=(",", ":"))))

    def start(self) -> None:
        """Start the periodic flush on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._flush_forever())

    async def _flush_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(FLUSH_INTERVAL_S)
            if self._buffer:
                lines, self._buffer = self._buffer, []
                await loop.run_in_executor(self._executor, self._write, lines)

    async def close(self) -> None:
        """Stop the flush task and write whatever is buffered (called on shutdown)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        lines, self._buffer = self._buffer, []
        if lines:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._write, lines)
        self._executor.shutdown(wait=True)

    def _write(self, lines: list[tuple[str, str]]) -> None:
        by_path: dict[str, list[str]] = {}
        for path, line in lines:
            by_path.setdefault(path, []).append(line)
        for path, chunk in by_path.items():
            try:
                target = Path(path)
                target.parent.mkdir(parents=True, exist_ok=True)
                with target.open("a", encoding="utf-8") as handle:
                    handle.write("\n".join(chunk) + "\n")
                self.written += len(chunk)
            except OSError as error:
                logger.error("cannot write %d shadow log lines to %s: %s", len(chunk), path, error)
