"""Request logs shipped out of the pod and monitored from S3: a real S3 API (moto, 127.0.0.1).

On gpu-k8s a sidecar (`mlcicd.serving.server.log_shipper`, the serving image's second container)
uploads the pod's request log as objects `<prefix>/<environment>/YYYY/MM/DD/HH/MMSS-<id>.jsonl`.
Here the real shipper process tails a log the server's own rotating logger writes, is killed
half-way and restarted, and must deliver every line exactly once; the monitor must judge the
objects exactly as the same lines in a local file, skip objects whose hour cannot hold a line of
the range, and say clearly when the storage cannot be reached.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pandas as pd
import pytest

from mlcicd.config import MonitoringConfig, load_config
from mlcicd.data.profile import build_profile
from mlcicd.errors import PipelineInputError
from mlcicd.monitoring.monitor import MonitoringContext, build_monitoring_report
from tests.helpers.monitoring import START, request_log_lines
from tests.helpers.s3 import s3_server

BUCKET = "ml-cicd-artifacts"
PREFIX = "zenml/request-logs/production"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with s3_server() as endpoint:
        yield endpoint


def _options(endpoint: str) -> dict[str, dict[str, Any]]:
    return {
        "s3": {
            "key": "testing",
            "secret": "testing",
            "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"},
            "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2},
        }
    }


def _start_shipper(log: Path, state: Path, endpoint: str, upload_every: float = 3600.0) -> Any:
    """The sidecar's command (manifests.shipper_command) as its own process, against moto."""
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    command = [
        sys.executable, "-m", "mlcicd.serving.server.log_shipper", "--log", str(log),
        "--state-dir", str(state), "--url", f"s3://{BUCKET}/{PREFIX}", "--endpoint-url",
        endpoint, "--region", "us-east-1", "--upload-every", str(upload_every), "--poll", "0.05",
    ]  # fmt: skip
    return subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)


def _stop(process: Any, timeout: float = 60.0) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=timeout)
    return process.returncode, err


def _wait_until_read(state: Path, log: Path, timeout: float = 30.0) -> None:
    """Until the shipper's saved position is the end of the live log (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            position = json.loads((state / "position.json").read_text())
            current = log.stat()
        except (FileNotFoundError, ValueError):
            position, current = None, None
        if (
            position
            and current
            and (position["inode"], position["offset"])
            == (
                current.st_ino,
                current.st_size,
            )
        ):
            return
        time.sleep(0.05)
    raise AssertionError(f"the shipper did not catch up with {log} in {timeout} s")


@pytest.fixture(scope="module")
def shipped(
    s3_endpoint: str,
    adult_frames: tuple[pd.DataFrame, pd.DataFrame],
    tmp_path_factory: Any,
) -> dict[str, Any]:
    """Two hours of traffic written by the server's own rotating logger and shipped by the real
    sidecar process, killed (-9) half-way and started again; the same lines as one local file."""
    import mlcicd.serving.server.request_log as request_log

    config, schema = load_config("local")
    config = config.model_copy(
        update={"monitoring": MonitoringConfig(environment="production", actions={})}
    )
    train, golden = adult_frames
    lines = request_log_lines(config, schema, golden, shift_age=15, error_every=7)
    folder = tmp_path_factory.mktemp("shipping")
    local = folder / "all-requests.jsonl"
    local.write_text("\n".join(lines) + "\n")
    s3 = boto3.client(
        "s3", endpoint_url=s3_endpoint, aws_access_key_id="testing",
        aws_secret_access_key="testing", region_name="us-east-1",
    )  # fmt: skip
    s3.create_bucket(Bucket=BUCKET)
    log, state = folder / "pod" / "requests.jsonl", folder / "pod" / "shipper"
    original = request_log.REQUEST_LOG_MAX_BYTES
    request_log.REQUEST_LOG_MAX_BYTES = 96 * 1024  # rotate every ~150 lines, as 50 MB would
    try:
        writer = request_log.open_request_log(str(log))
    finally:
        request_log.REQUEST_LOG_MAX_BYTES = original
    bursts = [lines[i : i + 200] for i in range(0, len(lines), 200)]
    shipper = _start_shipper(log, state, s3_endpoint)
    try:
        for number, burst in enumerate(bursts):
            if number == 3:
                continue  # written while the shipper was down (below)
            for line in burst:
                writer.info(line)
            if number == 2:  # the container dies without warning; the next one resumes
                _wait_until_read(state, log)
                shipper.kill()
                shipper.wait(timeout=30)
                for line in bursts[3]:
                    writer.info(line)
                shipper = _start_shipper(log, state, s3_endpoint)
            _wait_until_read(state, log)
        code, err = _stop(shipper)
    finally:
        if shipper.poll() is None:
            shipper.kill()
        for handler in list(writer.handlers):
            handler.close()
    assert code == 0, err
    # a day older: its lines cannot be in the range, so the monitor never opens it
    stale = START - timedelta(days=1)
    s3.put_object(
        Bucket=BUCKET,
        Key=f"{PREFIX}/{stale:%Y/%m/%d/%H/%M%S}-old.jsonl",
        Body=("\n".join(lines[:50]) + "\n").encode(),
    )
    profile = build_profile(
        train, schema, model_name=config.model_name, label="income", data_fingerprint="fp",
        golden_probabilities=np.random.default_rng(0).beta(1, 3, size=len(golden)),
        golden_metrics={"roc_auc": 0.9, "accuracy": 0.85},
    )  # fmt: skip
    return {
        "config": config,
        "schema": schema,
        "context": MonitoringContext("1", profile, 5.0, "fp"),
        "local": local,
        "lines": lines,
        "s3": s3,
        "rotated": sorted(p.name for p in log.parent.glob("requests.jsonl.*")),
    }


def _report(shipped: dict[str, Any], sources: list[str], options: Any = None) -> Any:
    return build_monitoring_report(
        shipped["config"], shipped["schema"], shipped["context"], sources,
        START, START + timedelta(hours=2), now=START + timedelta(hours=2),
        storage_options=options,
    )  # fmt: skip


def test_the_sidecar_ships_every_line_once_under_its_hour(shipped: dict[str, Any]) -> None:
    assert shipped["rotated"], "the log never rotated: the test would not cover rotation"
    listing = shipped["s3"].list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/2026/12/01/")
    keys = sorted(item["Key"] for item in listing["Contents"])
    shipped_lines: list[str] = []
    for key in keys:
        match = re.fullmatch(rf"{PREFIX}/2026/12/01/(\d\d)/\d{{4}}-[0-9a-f]{{32}}\.jsonl", key)
        assert match, key
        body = shipped["s3"].get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
        assert body.endswith("\n")
        for line in body.splitlines():
            assert json.loads(line)["timestamp"][11:13] == match[1], (key, line[:40])
            shipped_lines.append(line)
    assert Counter(shipped_lines) == Counter(shipped["lines"])  # none lost, none twice
    assert len(keys) >= 2  # the hour boundary starts a new object


def test_shipped_objects_are_judged_like_the_local_file(
    shipped: dict[str, Any], s3_endpoint: str
) -> None:
    local = _report(shipped, [str(shipped["local"])])
    remote = _report(shipped, [f"s3://{BUCKET}/{PREFIX}/**/*.jsonl"], _options(s3_endpoint))
    assert not any(source.endswith("-old.jsonl") for source in remote.sources)
    assert all(
        source.startswith(f"s3://{BUCKET}/{PREFIX}/2026/12/01/") for source in remote.sources
    )
    assert remote.lines_read == local.lines_read == len(shipped["lines"])
    assert [w.model_dump() for w in remote.windows] == [w.model_dump() for w in local.windows]
    kinds = {breach.kind for window in remote.windows for breach in window.breaches}
    assert {"errors", "drift"} <= kinds, kinds  # the shifted, failing second hour is flagged


def test_unreachable_storage_is_a_clear_error(shipped: dict[str, Any]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))  # bound, then closed: nobody listens there
        port = probe.getsockname()[1]
    options = _options(f"http://127.0.0.1:{port}")
    with pytest.raises(PipelineInputError, match=r"cannot list the request logs at s3://"):
        _report(shipped, [f"s3://{BUCKET}/{PREFIX}/**/*.jsonl"], options)


def test_a_missing_prefix_is_a_note_not_a_crash(shipped: dict[str, Any], s3_endpoint: str) -> None:
    report = _report(shipped, [f"s3://{BUCKET}/nothing-here/**/*.jsonl"], _options(s3_endpoint))
    assert report.windows == []
    assert "no request log found at s3://" in report.note


def test_a_shipper_that_cannot_reach_s3_keeps_every_line_and_says_so(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log, state = tmp_path / "requests.jsonl", tmp_path / "shipper"
    lines = [
        json.dumps({"timestamp": f"2026-12-01T08:00:{i:02d}+00:00", "n": i}) for i in range(30)
    ]
    log.write_text("\n".join(lines) + "\n")
    shipper = _start_shipper(log, state, f"http://127.0.0.1:{port}", upload_every=0.2)
    try:
        _wait_until_read(state, log)
        time.sleep(1.0)  # a few upload attempts
    finally:
        code, err = _stop(shipper)
    assert code == 1
    assert "cannot put s3://" in err and "could not be put before exit" in err
    staged = sorted((state / "staged").glob("*.jsonl"))
    assert [line for path in staged for line in path.read_text().splitlines()] == lines


def test_a_restart_cuts_lines_staged_after_the_saved_position(tmp_path: Path) -> None:
    """A container killed between staging lines and saving the position reads them again, so
    the staged file is cut back to the saved size first: no line is staged twice."""
    from mlcicd.serving.server.log_shipper import POSITION_FILE, STAGED_DIR, LogShipper

    log, state = tmp_path / "requests.jsonl", tmp_path / "shipper"
    first, second = (b'{"timestamp": "2026-12-01T08:00:0%d+00:00"}\n' % i for i in (1, 2))
    log.write_bytes(first + second)
    name = f"20261201T080000-{'0' * 32}.jsonl"
    (state / STAGED_DIR).mkdir(parents=True)
    (state / STAGED_DIR / name).write_bytes(first + second)  # staged, position not yet saved
    position = {"inode": log.stat().st_ino, "offset": len(first), "staged": name,
                "staged_size": len(first)}  # fmt: skip
    (state / POSITION_FILE).write_text(json.dumps(position))
    shipper = LogShipper(log, state, BUCKET, PREFIX, client=None)
    assert (state / STAGED_DIR / name).read_bytes() == first
    shipper.pump()
    shipper.close()
    assert (state / STAGED_DIR / name).read_bytes() == first + second
