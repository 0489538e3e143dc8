"""The model server's request log: one JSON line per request, appended to a rotating file.

Each line names the request id (`meta.puid`), the model version, the HTTP status, the latency,
the feature records and the predictions or the error (the monitor reads it back); a request
refused before it was parsed keeps a bounded copy of what was sent. One non-propagating logger
per path and process, created after seldon forks workers.

Lines are built and written by a background thread (`RequestLog`), so a request pays for a
queue put, not for JSON encoding and a file write; the queue is drained at interpreter exit (a
gunicorn worker stopping on SIGTERM), so a graceful stop loses no record.
"""

from __future__ import annotations

import atexit
import json
import logging
import logging.handlers
import queue
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlcicd.serving.server.request_parsing import ParsedRequest

REQUEST_LOG_MAX_BYTES = 50 * 1024 * 1024
REQUEST_LOG_BACKUPS = 5
LOGGED_RAW_REQUEST_CHARS = 2000
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_request_loggers: dict[str, logging.Logger] = {}
_request_loggers_lock = threading.Lock()


def request_id_of(payload: Any) -> str:
    """The client's Seldon `meta.puid` when it is a sane id, else a new one.

    Delayed ground truth is joined to logged predictions by this id, so a client that sends
    its own (an order number) can label it later; the answer's `meta.puid` always carries it.
    """
    meta = payload.get("meta") if isinstance(payload, dict) else None
    puid = meta.get("puid") if isinstance(meta, dict) else None
    if isinstance(puid, str) and _CLIENT_REQUEST_ID.match(puid):
        return puid
    return uuid.uuid4().hex


def request_log_line(
    *,
    request_id: str,
    model_name: str,
    model_version: str,
    timestamp: str,
    latency_ms: float,
    status: int,
    parsed: ParsedRequest | None,
    payload: Any,
    labels: list[str] | None = None,
    probabilities: list[float] | None = None,
    error: str | None = None,
) -> str:
    """The JSON line of one request (`timestamp` and `latency_ms` taken when it was answered)."""
    entry: dict[str, Any] = {
        "timestamp": timestamp,
        "request_id": request_id,
        "model_name": model_name,
        "model_version": model_version,
        "status": status,
        "latency_ms": round(latency_ms, 3),
        "records": parsed.records if parsed is not None else None,
        "predictions": labels,
        "probabilities": probabilities,
        "error": error,
    }
    if parsed is None:
        entry["request"] = loggable_request(payload)
    return json.dumps(entry, allow_nan=False, default=str)


def loggable_request(payload: Any) -> str:
    """A bounded text copy of a bad request, whatever it contains."""
    try:
        if isinstance(payload, (bytes, bytearray)):
            text = bytes(payload[:LOGGED_RAW_REQUEST_CHARS]).decode("utf-8", errors="replace")
        elif isinstance(payload, str):
            text = payload
        else:
            text = json.dumps(payload, default=str)
    except Exception:  # e.g. nesting deeper than json.dumps recurses
        text = f"<unprintable {type(payload).__name__}>"
    return text[:LOGGED_RAW_REQUEST_CHARS]


def open_request_log(path: str) -> logging.Logger:
    """One non-propagating rotating JSONL logger per path and process (created after fork)."""
    with _request_loggers_lock:
        if path in _request_loggers:
            return _request_loggers[path]
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=REQUEST_LOG_MAX_BYTES, backupCount=REQUEST_LOG_BACKUPS, encoding="utf-8"
        )
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger = logging.getLogger(f"{__name__}.requests.{len(_request_loggers)}")
        logger.handlers.clear()
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
        _request_loggers[path] = logger
        return logger


_STOP = object()
logger = logging.getLogger(__name__)


class RequestLog:
    """The request log of one worker: `write()` queues, a background thread encodes and appends.

    `close()` (registered with atexit) drains the queue before the process ends.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._file = open_request_log(path)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._drain, name="request-log", daemon=True)
        self._writer.start()
        self._closed = False
        atexit.register(self.close)

    def write(self, started: float, **fields: Any) -> None:
        """Queue one request's entry; `started` is its `time.perf_counter()` at arrival."""
        latency_ms = (time.perf_counter() - started) * 1000.0
        timestamp = datetime.now(UTC).isoformat()
        self._queue.put({"timestamp": timestamp, "latency_ms": latency_ms, **fields})

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the writer (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._writer.join(timeout)
        for handler in self._file.handlers:
            handler.flush()

    def _drain(self) -> None:
        while (entry := self._queue.get()) is not _STOP:
            try:  # a failure to log must never stop the log: the next entry is written
                self._file.info(request_log_line(**entry))
            except Exception:
                logger.exception("could not write a request log entry")
