"""Reading the model servers' request logs back: sources, time ranges, streaming in chunks.

The servers append one JSON line per request (`mlcicd.serving.server.request_log`) to a file
that rotates into `.1` ... `.5`. A monitoring run reads every file of the environment, oldest
first, line by line, and hands out bounded chunks of the entries inside its time range, so a
log of millions of requests never sits in memory. A line that is not a request entry (cut by a
crash, written by something else) is counted and skipped, never fatal.

A source may also be a URL (`s3://bucket/request-logs/production/**/*.jsonl`): on Kubernetes a
log shipper copies the pods' logs into object storage, one object per upload, under
`.../YYYY/MM/DD/HH/` of its first line (docs/gpu-k8s.md, "Monitoring"). Those are read through
fsspec, and an object whose hour folder lies well outside the time range is not opened at all.
"""

from __future__ import annotations

import glob
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fsspec

from mlcicd.errors import PipelineInputError

_DURATION = re.compile(r"^(?P<amount>\d+)(?P<unit>[smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_ROTATED = re.compile(r"\.(\d+)$")
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_HOUR_FOLDER = re.compile(r"/(\d{4})/(\d{2})/(\d{2})/(\d{2})/[^/]*$")
OBJECT_SPAN = timedelta(hours=2)
"""How far past its hour folder an uploaded object may reach: the shipper's key names the hour
of an object's first line and uploads at the latest after `upload_timeout` (at most 60 minutes),
plus an hour of margin for clock skew and retries."""

StorageOptions = Mapping[str, Mapping[str, Any]]
"""fsspec options per protocol (`{"s3": {"key": ..., "client_kwargs": {...}}}`)."""


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


def is_url(source: str) -> bool:
    """A source read through fsspec (s3://, gs://, ...) rather than a local path."""
    return bool(_URL.match(source)) and not source.lower().startswith("file://")


def _protocol(url: str) -> str:
    return url.split("://", 1)[0].lower()


def _open_url(url: str, storage_options: StorageOptions | None) -> Any:
    options = dict((storage_options or {}).get(_protocol(url), {}))
    return fsspec.open(url, "rt", encoding="utf-8", errors="replace", **options).open()


def _object_hour(key: str) -> datetime | None:
    match = _HOUR_FOLDER.search(key)
    if match is None:
        return None
    try:
        year, month, day, hour = (int(part) for part in match.groups())
        return datetime(year, month, day, hour, tzinfo=UTC)
    except ValueError:
        return None


def _expand_url(
    pattern: str,
    since: datetime | None,
    until: datetime | None,
    storage_options: StorageOptions | None,
) -> list[str]:
    options = dict((storage_options or {}).get(_protocol(pattern), {}))
    try:
        filesystem, path = fsspec.core.url_to_fs(pattern, **options)
        matches = filesystem.glob(path) if glob.has_magic(path) else [path]
        keys = [key for key in matches if filesystem.isfile(key)]
    except ImportError as error:
        raise PipelineInputError(
            f"cannot read the request logs at {pattern}: {error} (install the fsspec "
            "implementation for this protocol)"
        ) from None
    except Exception as error:  # each storage client raises its own types
        raise PipelineInputError(
            f"cannot list the request logs at {pattern}: {type(error).__name__}: {error} (check "
            "the credentials and endpoint of the storage, e.g. AWS_ACCESS_KEY_ID and "
            "AWS_ENDPOINT_URL_S3, or the stack's artifact store)"
        ) from None
    found = []
    for key in keys:
        hour = _object_hour(key)
        if hour is not None and since is not None and hour + OBJECT_SPAN <= since:
            continue
        if hour is not None and until is not None and hour >= until + timedelta(hours=1):
            continue
        found.append(filesystem.unstrip_protocol(key))
    return found


def expand_sources(
    patterns: Sequence[str],
    since: datetime | None = None,
    until: datetime | None = None,
    storage_options: StorageOptions | None = None,
) -> list[str]:
    """Every file the patterns name (globs allowed), each base's rotated backups oldest first.

    URLs are listed through fsspec (sorted by key, which the shipper's key format makes time
    order); with `since`/`until`, objects in hour folders that cannot hold a line of the range
    are left out.
    """
    local: set[str] = set()
    remote: list[str] = []
    for pattern in patterns:
        if is_url(pattern):
            remote.extend(_expand_url(pattern, since, until, storage_options))
            continue
        # globs in any folder (absolute paths too), so the glob module and not Path.glob
        matches = glob.glob(pattern) if glob.has_magic(pattern) else [pattern]  # noqa: PTH207
        for match in matches:
            rotated = glob.glob(glob.escape(match) + ".[0-9]*")  # noqa: PTH207
            for candidate in [match, *rotated]:
                if Path(candidate).is_file():
                    local.add(candidate)
    return sorted(local, key=_rotation_order) + sorted(dict.fromkeys(remote))


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


def _lines(handle: Any, source: str) -> Iterator[str]:
    """The handle's lines; a read that fails half-way (a dropped connection) names the source."""
    try:
        yield from handle
    except Exception as error:  # a local OSError or any storage client's error
        raise PipelineInputError(
            f"reading the request log {source} failed: {type(error).__name__}: {error}"
        ) from None


def iter_entry_chunks(
    sources: Sequence[str],
    since: datetime,
    until: datetime,
    chunk_size: int,
    stats: ReadStats,
    storage_options: StorageOptions | None = None,
) -> Iterator[list[tuple[datetime, dict[str, Any]]]]:
    """Chunks of (timestamp, entry) with since <= timestamp < until, in file order."""
    chunk: list[tuple[datetime, dict[str, Any]]] = []
    for source in sources:
        try:
            if is_url(source):
                handle = _open_url(source, storage_options)
            else:
                handle = Path(source).open(encoding="utf-8", errors="replace")  # noqa: SIM115
        except Exception as error:  # a local OSError or any storage client's error
            raise PipelineInputError(
                f"cannot read the request log {source}: {type(error).__name__}: {error}"
            ) from None
        with handle:
            lines = _lines(handle, source)
            for line in lines:
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
