"""The monitor over request logs shipped to object storage: a real S3 API (moto) on 127.0.0.1.

On gpu-k8s the Fluent Bit sidecar uploads the pods' request log as objects keyed
`<prefix>/<environment>/YYYY/MM/DD/HH/MMSS-<uuid>.jsonl`; the monitor must judge those exactly as
it judges the same lines in a local file, skip objects whose hour cannot hold a line of the range,
and say clearly when the storage cannot be reached.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import numpy as np
import pandas as pd
import pytest
from moto.server import ThreadedMotoServer

from mlcicd.config import MonitoringConfig, load_config
from mlcicd.data.profile import build_profile
from mlcicd.errors import PipelineInputError
from mlcicd.monitoring.monitor import MonitoringContext, build_monitoring_report
from tests.helpers.monitoring import START, request_log_lines

BUCKET = "ml-cicd-artifacts"
PREFIX = "zenml/request-logs/production"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _options(endpoint: str) -> dict[str, dict[str, Any]]:
    return {
        "s3": {
            "key": "testing",
            "secret": "testing",
            "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"},
            "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2},
        }
    }


@pytest.fixture(scope="module")
def shipped(
    s3_endpoint: str, adult_frames: tuple[pd.DataFrame, pd.DataFrame], tmp_path_factory: Any
) -> dict[str, Any]:
    """The same two hours of traffic as one local file and as the shipper's objects."""
    config, schema = load_config("local")
    config = config.model_copy(
        update={"monitoring": MonitoringConfig(environment="production", actions={})}
    )
    train, golden = adult_frames
    lines = request_log_lines(config, schema, golden, shift_age=15, error_every=7)
    local = tmp_path_factory.mktemp("logs") / "requests.jsonl"
    local.write_text("\n".join(lines) + "\n")
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket=BUCKET)
    half = len(lines) // 2
    # three uploads, as the sidecar makes them: the hour folder is the first line's
    uploads = [lines[: half // 2], lines[half // 2 : half], lines[half:]]
    for i, chunk in enumerate(uploads):
        first = START + timedelta(hours=0 if i < 2 else 1, minutes=10 * i)
        key = f"{PREFIX}/{first:%Y/%m/%d/%H/%M%S}-upload{i}.jsonl"
        s3.put_object(Bucket=BUCKET, Key=key, Body=("\n".join(chunk) + "\n").encode())
    # a day older: its lines cannot be in the range, so it is never opened (its lines are)
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
        "lines": len(lines),
    }


def _report(shipped: dict[str, Any], sources: list[str], options: Any = None) -> Any:
    return build_monitoring_report(
        shipped["config"], shipped["schema"], shipped["context"], sources,
        START, START + timedelta(hours=2), now=START + timedelta(hours=2),
        storage_options=options,
    )  # fmt: skip


def test_shipped_objects_are_judged_like_the_local_file(
    shipped: dict[str, Any], s3_endpoint: str
) -> None:
    local = _report(shipped, [str(shipped["local"])])
    remote = _report(shipped, [f"s3://{BUCKET}/{PREFIX}/**/*.jsonl"], _options(s3_endpoint))
    assert len(remote.sources) == 3, remote.sources  # the day-old object is left out
    assert all(
        source.startswith(f"s3://{BUCKET}/{PREFIX}/2026/12/01/") for source in remote.sources
    )
    assert remote.lines_read == local.lines_read == shipped["lines"]
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
