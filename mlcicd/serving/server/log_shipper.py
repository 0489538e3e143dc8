"""Ship the model server's request log out of the pod, into S3, from a sidecar container.

On Kubernetes the request log sits on the pod's emptyDir and dies with the pod. This process runs
from the same serving image as a second container: it tails the log, stages complete lines in
files on the same emptyDir and puts each to `s3://<bucket>/<prefix>/YYYY/MM/DD/HH/MMSS-<id>.jsonl`
(the hour of its first line, which the monitor uses to skip objects outside its range) once it is
`--upload-every` old or `--max-bytes` big, and on SIGTERM.

Nothing is lost or doubled across a container restart: the read position is saved together with
the staged size after every batch (a restart cuts the staged file back to it and reads on from
there), a staged file's object key is fixed when it is started (a re-put after a crash overwrites
the same object), and rotation (the server renames `requests.jsonl` to `.1`, `.2`, ...) is
followed by inode. Only what the pod loses before an upload (node failure) is gone: at most one
`--upload-every`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

logger = logging.getLogger("mlcicd.log_shipper")

POSITION_FILE = "position.json"
STAGED_DIR = "staged"
MAX_ROTATED = 20
"""Rotated backups searched for the file the saved position points into."""
_S3_URL = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<prefix>[^\s$%]+)$")
_LEADING_TIMESTAMP = re.compile(rb'^\{"timestamp": "([^"]{10,40})"')
_STAGED_NAME = re.compile(r"^(?P<at>\d{8}T\d{6})-(?P<id>[0-9a-f]{32})\.jsonl$")


@dataclass
class Position:
    """Where reading stopped: the log file (by inode), the byte offset, the staged file's size."""

    inode: int | None = None
    offset: int = 0
    staged: str | None = None
    staged_size: int = 0


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/prefix` -> (bucket, prefix without slashes at the ends)."""
    match = _S3_URL.match(url.rstrip("/"))
    if match is None:
        raise ValueError(
            f"--url {url!r} must be s3://<bucket>/<prefix> (a key prefix without spaces, $ or %)"
        )
    return match["bucket"], match["prefix"].strip("/")


def object_key(prefix: str, staged_name: str) -> str:
    """The object key of a staged file: its first line's hour folder, then minute-second-id."""
    match = _STAGED_NAME.match(staged_name)
    if match is None:
        raise ValueError(f"not a staged request-log file name: {staged_name!r}")
    at = datetime.strptime(match["at"], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    return f"{prefix}/{at:%Y/%m/%d/%H/%M%S}-{match['id']}.jsonl"


def _line_time(line: bytes) -> datetime:
    """The `timestamp` of a request-log line; now when the line has none (not our format)."""
    try:
        match = _LEADING_TIMESTAMP.match(line)  # the server writes it first: no JSON parse
        raw = match.group(1).decode() if match else json.loads(line).get("timestamp")
        parsed = datetime.fromisoformat(raw)
    except (ValueError, TypeError, AttributeError):
        return datetime.now(UTC)
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class LogShipper:
    """Tail one request log into staged files and put them to S3; one instance per container."""

    def __init__(
        self,
        log_path: Path,
        state_dir: Path,
        bucket: str,
        prefix: str,
        client: Any,
        *,
        upload_every: float = 300.0,
        max_bytes: int = 50 * 1024 * 1024,
    ) -> None:
        self.log_path = log_path
        self.state_dir = state_dir
        self.staged_dir = state_dir / STAGED_DIR
        self.bucket = bucket
        self.prefix = prefix
        self.client = client
        self.upload_every = upload_every
        self.max_bytes = max_bytes
        self.staged_dir.mkdir(parents=True, exist_ok=True)
        self.position = self._load_position()
        self._handle: BinaryIO | None = None
        self._handle_inode: int | None = None
        self._missing = 0
        self._opened_at = 0.0
        self._failures = 0
        self._retry_at = 0.0

    # -- position -----------------------------------------------------------------------------
    def _load_position(self) -> Position:
        path = self.state_dir / POSITION_FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            position = Position(**raw)
        except FileNotFoundError:
            return Position()
        except (ValueError, TypeError) as error:
            logger.warning("ignoring an unreadable %s (%s): reading from the start", path, error)
            return Position()
        if position.staged:
            staged = self.staged_dir / position.staged
            if staged.exists() and staged.stat().st_size > position.staged_size:
                # lines staged after the last saved position are read again: cut them off
                with staged.open("r+b") as handle:
                    handle.truncate(position.staged_size)
        return position

    def _save_position(self) -> None:
        path = self.state_dir / POSITION_FILE
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.position.__dict__), encoding="utf-8")
        temporary.replace(path)

    # -- reading ------------------------------------------------------------------------------
    def _generations(self) -> list[tuple[Path, int]]:
        """The live log and its rotated backups, newest first, with their inodes.

        Every number is looked at (a rotation renames one file after the other, so a gap can
        show for a moment); the live log is missing only before the server's first request.
        """
        found = []
        for number in range(MAX_ROTATED + 1):
            path = self.log_path if number == 0 else Path(f"{self.log_path}.{number}")
            try:
                found.append((path, path.stat().st_ino))
            except FileNotFoundError:
                continue
        return found

    def _open_source(self) -> bool:
        """Open the file the position points into; the oldest backup on a first start."""
        generations = self._generations()
        if not generations or generations[0][0] != self.log_path:
            return False  # the server has not written a request yet
        saved = self.position.inode
        if saved is None:
            path, inode = generations[-1]  # nothing shipped yet: the oldest line first
            self._attach(path, inode, 0)
            return True
        for path, inode in generations:
            if inode == saved:
                self._attach(path, inode, self.position.offset)
                return True
        logger.warning(
            "the file last read (inode %s) is gone (rotated past the backups): lines between are "
            "lost; continuing with the oldest backup left",
            saved,
        )
        path, inode = generations[-1]
        self._attach(path, inode, 0)
        return True

    def _next_generation(self) -> tuple[Path, int] | None:
        """The file rotated in after the one being read; None while that one is the live log."""
        generations = self._generations()
        for index, (_, inode) in enumerate(generations):
            if inode == self._handle_inode:
                return generations[index - 1] if index > 0 else None
        # Not under any name: mid-rotation for a moment, or deleted past the last backup.
        self._missing += 1
        if self._missing < 3 or not generations:
            return None
        self._missing = 0
        return generations[-1]

    def _attach(self, path: Path, inode: int, offset: int) -> None:
        handle = path.open("rb")
        handle.seek(offset)
        self._handle, self._handle_inode = handle, inode
        self.position.inode, self.position.offset = inode, offset

    def pump(self, batch_bytes: int = 4 * 1024 * 1024) -> int:
        """Stage every complete line written since the last call; the bytes staged."""
        moved = 0
        while True:
            if self._handle is None and not self._open_source():
                return moved
            handle = self._handle
            if handle is None:  # pragma: no cover - _open_source attaches one or says False
                return moved
            # Looked up before reading: a renamed file gets no more lines, so once this read
            # has reached its end it is drained and the next one can be opened.
            following = self._next_generation()
            lines: list[bytes] = []
            size = 0
            while size < batch_bytes:
                line = handle.readline()
                if not line.endswith(b"\n"):  # nothing more, or a line still being written
                    handle.seek(self.position.offset + size)
                    break
                lines.append(line)
                size += len(line)
            if lines:
                self._stage(lines)
                moved += size
                if size >= batch_bytes:
                    continue
            if following is not None:
                handle.close()
                self._attach(*following, 0)
                continue  # go on with the newer file
            return moved

    def _stage(self, lines: list[bytes]) -> None:
        """Append to the open staged file; a new hour (or a full file) starts the next one."""
        start = 0
        for index, line in enumerate(lines):
            hour = _line_time(line).strftime("%Y%m%dT%H")
            if self.position.staged is not None and not self.position.staged.startswith(hour):
                self._append(lines[start:index])
                self._seal()
                start = index
            if self.position.staged is None:
                at = _line_time(line)
                self.position.staged = f"{at:%Y%m%dT%H%M%S}-{uuid.uuid4().hex}.jsonl"
                self.position.staged_size = 0
                self._opened_at = time.monotonic()
        self._append(lines[start:])
        if self.position.staged_size >= self.max_bytes:
            self._seal()

    def _append(self, lines: list[bytes]) -> None:
        if not lines:
            return
        size = sum(len(line) for line in lines)
        staged = self.staged_dir / str(self.position.staged)
        with staged.open("ab") as handle:
            handle.writelines(lines)
            handle.flush()
            os.fsync(handle.fileno())
        self.position.offset += size
        self.position.staged_size += size
        self._save_position()

    def _seal(self) -> None:
        """Close the staged file for appends: the next line starts a new object."""
        self.position.staged, self.position.staged_size = None, 0
        self._save_position()

    # -- uploading ----------------------------------------------------------------------------
    def upload_due(self, *, everything: bool = False) -> int:
        """Put every sealed staged file (and the open one once due, or with `everything`)."""
        now = time.monotonic()
        if not everything and now < self._retry_at:
            return 0
        if self.position.staged is not None and (
            everything or now - self._opened_at >= self.upload_every
        ):
            self._seal()
        uploaded = 0
        for staged in sorted(self.staged_dir.glob("*.jsonl")):
            if staged.name == self.position.staged:
                continue
            key = object_key(self.prefix, staged.name)
            try:
                with staged.open("rb") as body:
                    self.client.put_object(Bucket=self.bucket, Key=key, Body=body)
            except Exception as error:  # any storage or network error: keep it, retry later
                self._failures += 1
                delay = min(300.0, 2.0**self._failures)
                self._retry_at = time.monotonic() + delay
                logger.warning(
                    "cannot put s3://%s/%s (%s: %s); retrying in %.0f s",
                    self.bucket,
                    key,
                    type(error).__name__,
                    error,
                    delay,
                )
                return uploaded
            staged.unlink()
            uploaded += 1
            self._failures = 0
            logger.info("shipped s3://%s/%s", self.bucket, key)
        return uploaded

    def close(self) -> None:
        """Close the log file (the position is already saved)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _s3_client(endpoint_url: str | None, region: str | None) -> Any:
    import boto3

    # boto3 reads AWS_ENDPOINT_URL_S3 itself; MLFLOW_S3_ENDPOINT_URL is what the serving secret
    # holds for MinIO (the model is loaded through it), so the shipper uses it too.
    endpoint = (
        endpoint_url
        or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("MLFLOW_S3_ENDPOINT_URL")
    )
    from botocore.config import Config

    # few retries inside one put: the shipper retries itself, with backoff, and keeps the file
    config = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=10)
    return boto3.client(
        "s3", endpoint_url=endpoint or None, region_name=region or None, config=config
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m mlcicd.serving.server.log_shipper --log ... --state-dir ... --url s3://...`."""
    parser = argparse.ArgumentParser(prog="log_shipper", description=__doc__.split("\n")[0])
    parser.add_argument("--log", required=True, type=Path, help="the request log to tail")
    parser.add_argument("--state-dir", required=True, type=Path, help="position + staged files")
    parser.add_argument("--url", required=True, help="s3://<bucket>/<prefix>")
    parser.add_argument("--endpoint-url", default=None, help="S3-compatible endpoint (MinIO)")
    parser.add_argument("--region", default=None)
    parser.add_argument("--upload-every", type=float, default=300.0, help="seconds")
    parser.add_argument("--max-bytes", type=int, default=50 * 1024 * 1024)
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between reads")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        bucket, prefix = parse_s3_url(args.url)
    except ValueError as error:
        parser.error(str(error))
    if args.upload_every <= 0 or args.max_bytes < 1 or args.poll <= 0:
        parser.error("--upload-every, --max-bytes and --poll must be positive")
    shipper = LogShipper(
        args.log,
        args.state_dir,
        bucket,
        prefix,
        _s3_client(args.endpoint_url, args.region),
        upload_every=args.upload_every,
        max_bytes=args.max_bytes,
    )
    stopping = False

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logger.info("shipping %s to s3://%s/%s", args.log, bucket, prefix)
    shipper.upload_due(everything=True)  # what a previous container staged
    while not stopping:
        moved = shipper.pump()
        shipper.upload_due()
        if not moved:
            time.sleep(args.poll)
    shipper.pump()
    shipper.upload_due(everything=True)
    shipper.close()
    left = list(shipper.staged_dir.glob("*.jsonl"))
    if left:
        logger.error("%d staged file(s) could not be put before exit", len(left))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
