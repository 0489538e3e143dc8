"""The request log's background writer: nothing lost on close, a bad entry never stops it."""

from __future__ import annotations

import json
import time
from pathlib import Path

from mlcicd.serving.server.request_log import RequestLog
from mlcicd.serving.server.request_parsing import ParsedRequest


def _entry(index: int, probability: float = 0.25) -> dict:
    parsed = ParsedRequest("jsonData", {"age": [30 + index], "sex": ["Male"]}, 1)
    return {
        "request_id": f"r{index}",
        "model_name": "m",
        "model_version": "3",
        "status": 200,
        "parsed": parsed,
        "payload": None,
        "labels": ["<=50K"],
        "probabilities": [probability],
    }


def test_every_queued_entry_is_written_by_close(tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl"
    log = RequestLog(str(path))
    started = time.perf_counter()
    for index in range(2000):
        log.write(started, **_entry(index))
    log.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["request_id"] for line in lines] == [f"r{i}" for i in range(2000)]
    assert lines[5]["records"] == [{"age": 35, "sex": "Male"}]
    assert all(line["latency_ms"] >= 0 and line["timestamp"] for line in lines)
    log.close()  # idempotent


def test_an_entry_that_cannot_be_encoded_is_skipped_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl"
    log = RequestLog(str(path))
    log.write(time.perf_counter(), **_entry(0, probability=float("nan")))  # allow_nan=False
    log.write(time.perf_counter(), **_entry(1))
    log.close()
    assert [json.loads(line)["request_id"] for line in path.read_text().splitlines()] == ["r1"]
