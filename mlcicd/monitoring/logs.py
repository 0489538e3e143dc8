"""Reading the model servers' request logs back: sources, time ranges, streaming in chunks.

The servers append one JSON line per request (`mlcicd.serving.server.request_log`) to a file
that rotates into `.1` ... `.5`. A monitoring run reads every file of the environment, oldest
first, line by line, and hands out bounded chunks of the entries inside its time range, so a
log of millions of requests never sits in memory. A line that is not a request entry (cut by a
crash, written by something else) is counted and skipped, never fatal.
"""

from __future__ import annotations

import glob
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mlcicd.errors import PipelineInputError

_DURATION = re.compile(r"^(?P<amount>\d+)(?P<unit>[smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_ROTATED = re.compile(r"\.(\d+)$")


def parse_time(value: str, now: datetime, what: str = "--since") -> datetime:
    """An ISO-8601 time (UTC when it names no zone) or a duration before `now` (`90m`, `2d`)."""
    text = value.strip()
    match = _DURATION.match(text)
    if match:
        delta = timedelta(**{_UNITS[match["unit"]]: int(match["amount"])})
        return now - delta
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise PipelineInputError(
            f"{what} {value!r} is neither an ISO-8601 time (2026-12-01T08:00:00Z) nor a "
            "duration (30m, 6h, 2d)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _rotation_order(path: str) -> tuple[str, int]:
    """Sort key: base name, then the oldest backup (highest suffix) first, the live file last."""
    match = _ROTATED.search(path)
    if match:
        return path[: match.start()], -int(match.group(1))
    return path, 0


def expand_sources(patterns: Sequence[str]) -> list[str]:
    """Every file the patterns name (globs allowed), each base's rotated backups oldest first."""
    found: set[str] = set()
    for pattern in patterns:
        # globs in any folder (absolute paths too), so the glob module and not Path.glob
        matches = glob.glob(pattern) if glob.has_magic(pattern) else [pattern]  # noqa: PTH207
        for match in matches:
            rotated = glob.glob(glob.escape(match) + ".[0-9]*")  # noqa: PTH207
            for candidate in [match, *rotated]:
                if Path(candidate).is_file():
                    found.add(candidate)
    return sorted(found, key=_rotation_order)


@dataclass
class ReadStats:
    """How much was read, and how much of it was not a usable entry."""

    lines: int = 0
    skipped: int = 0
    outside_range: int = 0
    other_models: int = 0


def _timestamp(entry: dict[str, Any]) -> datetime | None:
    raw = entry.get("timestamp")
    if not isinstance(raw, str):
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iter_entry_chunks(
    sources: Sequence[str],
    since: datetime,
    until: datetime,
    chunk_size: int,
    stats: ReadStats,
) -> Iterator[list[tuple[datetime, dict[str, Any]]]]:
    """Chunks of (timestamp, entry) with since <= timestamp < until, in file order."""
    chunk: list[tuple[datetime, dict[str, Any]]] = []
    for source in sources:
        try:
            handle = Path(source).open(encoding="utf-8", errors="replace")  # noqa: SIM115
        except OSError as error:
            raise PipelineInputError(f"cannot read the request log {source}: {error}") from None
        with handle:
            for line in handle:
                stats.lines += 1
                try:
                    entry = json.loads(line)
                except ValueError:
                    stats.skipped += 1
                    continue
                if not isinstance(entry, dict):
                    stats.skipped += 1
                    continue
                at = _timestamp(entry)
                if at is None or not isinstance(entry.get("status"), int):
                    stats.skipped += 1
                    continue
                if not since <= at < until:
                    stats.outside_range += 1
                    continue
                chunk.append((at, entry))
                if len(chunk) >= chunk_size:
                    yield chunk
                    chunk = []
    if chunk:
        yield chunk
