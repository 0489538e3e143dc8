"""Latency and throughput of the seldon-core model server versus `mlflow models serve`.

Usage: python benchmarks/serving_latency.py [--requests 300] [--batch-requests 30]
       [--version-label LABEL]

Both servers serve the same registered MLflow model version, trained here on the embedded Adult
data with the project's own functions and registered in a throwaway SQLite store, so the only
difference measured is the serving stack: seldon-core's Flask/gunicorn app with the project's
request validation and request log, against MLflow's FastAPI/uvicorn scoring server. The seldon
server is started by `LocalSeldonBackend.deploy`, exactly as a local deployment starts it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import requests
from mlflow import MlflowClient

from inference.packaged_model import PackagedClassifier
from mlcicd.config import load_config
from mlcicd.data.loading import data_fingerprint, load_datasets
from mlcicd.data.preprocessing import fit_preprocessor, split_train_validation
from mlcicd.registry.versions import log_packaged_model, register_version
from mlcicd.release.smoke_test import _json_value, row_payload
from mlcicd.serving.contract import ModelRef, ServingError
from mlcicd.serving.local.backend import LocalSeldonBackend
from mlcicd.serving.local.processes import free_port
from mlcicd.serving.server.protocol import PREDICTIONS_PATH
from mlcicd.training.fit import fit_packaged_model

REPO_ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
ENVIRONMENT = "benchmark"
MODEL_NAME = "serving-benchmark"
BATCH_SIZES = (1, 32, 1024)
WARMUP_REQUESTS = 20
AGREEMENT_ROWS = 64
REQUEST_TIMEOUT_S = 30.0
STARTUP_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 15.0
JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Server:
    """One endpoint and how to turn rows into its request body and its answer into numbers."""

    name: str
    url: str
    body: Callable[[pd.DataFrame], bytes]
    probabilities: Callable[[dict[str, Any]], list[float]]


@dataclass(frozen=True)
class Row:
    """One line of the results table."""

    server: str
    measurement: str
    batch_size: int
    requests: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    rows_per_s: float


def raise_interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM behaves like Ctrl-C, so the `finally` blocks stop the servers."""
    raise KeyboardInterrupt(f"signal {signum}")


def git_label() -> str:
    """The commit measured, read-only (`git rev-parse` changes no state)."""
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - the git on PATH
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unlabelled"
    return proc.stdout.strip() or "unlabelled"


@dataclass(frozen=True)
class Setup:
    """The registered version both servers serve, and what the requests are made of."""

    tracking_uri: str
    version: str
    model: PackagedClassifier
    golden: pd.DataFrame
    max_rows: int


def _train_and_register(tmp: Path) -> Setup:
    """Train the default model as the pipeline does and register one version in `tmp`'s store."""
    tracking_uri = f"sqlite:///{tmp / 'mlflow.db'}"
    mlflow.set_tracking_uri(tracking_uri)
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    client = MlflowClient(tracking_uri)
    experiment_id = client.create_experiment(
        "serving-benchmark", artifact_location=(tmp / "artifacts").as_uri()
    )
    config, schema = load_config("local")
    training = config.training.model_copy(update={"checkpoint_dir": str(tmp / "checkpoints")})
    config = config.model_copy(update={"training": training})
    fingerprint = data_fingerprint(config.data)
    train, golden = load_datasets(config.data, schema, config.seed)
    train_split, validation_split = split_train_validation(train, config.data, config.seed)
    preprocessor = fit_preprocessor(train_split, config.data, schema)
    started = time.perf_counter()
    model, _ = fit_packaged_model(
        train_split, validation_split, preprocessor, config, schema, fingerprint
    )
    print(f"trained {config.model.type} in {time.perf_counter() - started:.1f} s", flush=True)
    with mlflow.start_run(experiment_id=experiment_id):
        model_uri = log_packaged_model(model, golden)
    version = register_version(client, MODEL_NAME, model_uri, tags={}, description="benchmark")
    return Setup(tracking_uri, version, model, golden, config.deployment.max_rows)


def _seldon_backend(tmp: Path, tracking_uri: str, max_rows: int) -> LocalSeldonBackend:
    """A backend of its own: private root under `tmp`, a free port, nothing shared with `run.py`."""
    return LocalSeldonBackend(
        root=tmp / "serving",
        ports={ENVIRONMENT: free_port(HOST)},
        tracking_uri=tracking_uri,
        host=HOST,
        startup_timeout=STARTUP_TIMEOUT_S,
        max_rows=max_rows,
    )


def _mlflow_command(version: str, port: str) -> list[str]:
    """The `mlflow models serve` command line, as a user would type it."""
    return [
        str(Path(sys.executable).parent / "mlflow"),
        "models", "serve",
        "-m", f"models:/{MODEL_NAME}/{version}",
        "--env-manager", "local",
        "--host", HOST,
        "--port", port,
    ]  # fmt: skip


@contextlib.contextmanager
def _mlflow_server(tmp: Path, tracking_uri: str, version: str) -> Iterator[str]:
    """Run `mlflow models serve` until the block ends; yields the invocations URL."""
    port = free_port(HOST)
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")]),
        "MLFLOW_TRACKING_URI": tracking_uri,
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("MLFLOW_MODELS_WORKERS", None)  # one worker, like the seldon server
    log_path = tmp / "mlflow-serve.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            _mlflow_command(version, str(port)),
            cwd=tmp,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so one killpg stops uvicorn too
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise ServingError(f"mlflow models serve exited:\n{_tail(log_path)}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"http://{HOST}:{port}/ping", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise ServingError(
                    f"mlflow models serve not ready after {STARTUP_TIMEOUT_S:.0f} s:\n"
                    f"{_tail(log_path)}"
                )
            time.sleep(0.5)
        yield f"http://{HOST}:{port}/invocations"
    finally:
        _stop_group(process)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the whole process group, SIGKILL if it is still there after a grace period."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_TIMEOUT_S)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_TIMEOUT_S)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _seldon_body(names: list[str]) -> Callable[[pd.DataFrame], bytes]:
    return lambda frame: json.dumps(row_payload(frame, names)).encode()


def _mlflow_body(names: list[str]) -> Callable[[pd.DataFrame], bytes]:
    def body(frame: pd.DataFrame) -> bytes:
        rows = [[_json_value(v) for v in rec] for rec in frame[names].itertuples(index=False)]
        return json.dumps({"dataframe_split": {"columns": names, "data": rows}}).encode()

    return body


def _seldon_probabilities(answer: dict[str, Any]) -> list[float]:
    return [float(row[1]) for row in answer["data"]["ndarray"]]


def _mlflow_probabilities(answer: dict[str, Any]) -> list[float]:
    return [float(row["probability"]) for row in answer["predictions"]]


def _post(session: requests.Session, server: Server, body: bytes) -> requests.Response:
    """One request; anything but a 200 aborts the benchmark, since its timing would be a lie."""
    response = session.post(server.url, data=body, headers=JSON_HEADERS, timeout=REQUEST_TIMEOUT_S)
    if response.status_code != 200:
        raise ServingError(f"{server.name}: HTTP {response.status_code}: {response.text[:300]}")
    return response


def _batch(golden: pd.DataFrame, index: int, size: int) -> pd.DataFrame:
    """The index-th batch of consecutive golden rows, wrapping around the end of the file."""
    start = (index * size) % max(1, len(golden) - size)
    return golden.iloc[start : start + size]


def _check_agreement(
    session: requests.Session,
    servers: list[Server],
    golden: pd.DataFrame,
    model: PackagedClassifier,
) -> float:
    """Both servers answer 200 with the offline model's probabilities; returns the max diff."""
    rows = golden.iloc[:AGREEMENT_ROWS]
    offline = model.predict_proba(rows)
    answers = {}
    for server in servers:
        answer = _post(session, server, server.body(rows)).json()
        answers[server.name] = np.asarray(server.probabilities(answer), dtype=np.float64)
        off = float(np.max(np.abs(answers[server.name] - offline)))
        print(f"{server.name}: HTTP 200, max |p - offline p| = {off:.3g}", flush=True)
    first, second = (answers[s.name] for s in servers)
    return float(np.max(np.abs(first - second)))


def _latency(
    session: requests.Session, server: Server, golden: pd.DataFrame, requests_n: int
) -> list[float]:
    """Single-row round trips in ms; bodies are encoded beforehand so only the server is timed."""
    bodies = [server.body(_batch(golden, i, 1)) for i in range(requests_n)]
    timings = []
    for body in bodies:
        started = time.perf_counter()
        _post(session, server, body)
        timings.append((time.perf_counter() - started) * 1000.0)
    return timings


def _throughput(
    session: requests.Session, server: Server, golden: pd.DataFrame, size: int, requests_n: int
) -> tuple[list[float], float]:
    """Per-request ms and rows/s for back-to-back requests of `size` rows."""
    bodies = [server.body(_batch(golden, i, size)) for i in range(requests_n)]
    timings = []
    started = time.perf_counter()
    for body in bodies:
        one = time.perf_counter()
        _post(session, server, body)
        timings.append((time.perf_counter() - one) * 1000.0)
    elapsed = time.perf_counter() - started
    return timings, size * requests_n / elapsed


def _row(server: str, measurement: str, size: int, timings: list[float], rows_per_s: float) -> Row:
    p50, p95, p99 = (float(v) for v in np.percentile(timings, [50, 95, 99]))
    return Row(server, measurement, size, len(timings), p50, p95, p99, rows_per_s)


def _measure(
    servers: list[Server], golden: pd.DataFrame, requests_n: int, batch_requests: int
) -> list[Row]:
    """Warm up, then latency and throughput per server, alternating servers per measurement."""
    results: list[Row] = []
    with requests.Session() as session:
        for server in servers:
            for i in range(WARMUP_REQUESTS):
                _post(session, server, server.body(_batch(golden, i, 1)))
        for server in servers:
            timings = _latency(session, server, golden, requests_n)
            rows_per_s = 1000.0 * len(timings) / sum(timings)
            results.append(_row(server.name, "latency", 1, timings, rows_per_s))
            print(f"measured single-row latency: {server.name}", flush=True)
        for size in BATCH_SIZES:
            for server in servers:
                timings, rows_per_s = _throughput(session, server, golden, size, batch_requests)
                results.append(_row(server.name, "throughput", size, timings, rows_per_s))
                print(f"measured batch {size}: {server.name}", flush=True)
    return results


def _table(results: list[Row]) -> str:
    lines = [
        "| server | measurement | batch size | requests | p50 ms | p95 ms | p99 ms | rows/s |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.server} | {r.measurement} | {r.batch_size} | {r.requests} | {r.p50_ms:.1f} "
            f"| {r.p95_ms:.1f} | {r.p99_ms:.1f} | {r.rows_per_s:,.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Set up, start both servers, check they agree, measure, print, and always clean up."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300, help="single-row requests timed")
    parser.add_argument("--batch-requests", type=int, default=30, help="requests per batch size")
    parser.add_argument("--version-label", default=None, help="what was measured (default: git)")
    args = parser.parse_args()
    if args.requests < 1 or args.batch_requests < 1:
        parser.error("--requests and --batch-requests must be positive")
    label = args.version_label or git_label()
    signal.signal(signal.SIGTERM, raise_interrupt)
    command = shlex.join(
        [
            os.path.relpath(sys.executable, Path.cwd()),
            os.path.relpath(sys.argv[0]),
            *sys.argv[1:],
        ]
    )
    with tempfile.TemporaryDirectory(prefix="serving-bench-") as tmp_name:
        tmp = Path(tmp_name)
        setup = _train_and_register(tmp)
        version, model, golden = setup.version, setup.model, setup.golden
        if setup.max_rows < max(BATCH_SIZES):
            sys.exit(f"deployment.max_rows {setup.max_rows} is below the largest batch size")
        backend = _seldon_backend(tmp, setup.tracking_uri, setup.max_rows)
        model_ref = ModelRef(MODEL_NAME, version, f"models:/{MODEL_NAME}/{version}")
        try:
            started = time.perf_counter()
            backend.deploy(ENVIRONMENT, model_ref, verify=lambda url: None)
            record = backend.read_record(ENVIRONMENT)
            assert record is not None and record.stable is not None
            server_port = record.stable.port  # the model server itself, not its router
            print(f"seldon-core up in {time.perf_counter() - started:.1f} s", flush=True)
            started = time.perf_counter()
            with _mlflow_server(tmp, setup.tracking_uri, version) as mlflow_url:
                print(f"mlflow models serve up in {time.perf_counter() - started:.1f} s")
                names = list(model.feature_names)
                servers = [
                    Server(
                        "seldon-core",
                        f"http://{HOST}:{server_port}{PREDICTIONS_PATH}",
                        _seldon_body(names),
                        _seldon_probabilities,
                    ),
                    Server(
                        "mlflow models serve",
                        mlflow_url,
                        _mlflow_body(names),
                        _mlflow_probabilities,
                    ),
                ]
                with requests.Session() as session:
                    diff = _check_agreement(session, servers, golden, model)
                print(f"max |p_seldon - p_mlflow| over {AGREEMENT_ROWS} rows: {diff:.3g}")
                results = _measure(servers, golden, args.requests, args.batch_requests)
        finally:
            backend.stop(ENVIRONMENT)  # the record lists every process it started
    print()
    print(f"command: {command}")
    print(f"date: {datetime.now(UTC).isoformat(timespec='seconds')}, label: {label}")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f}"
    )
    print(f"model: {MODEL_NAME} v{version}, {len(model.feature_names)} features")
    mlflow_cmd = _mlflow_command(version, "<free port>")
    mlflow_cmd[0] = os.path.relpath(mlflow_cmd[0])
    print(f"mlflow server: {shlex.join(mlflow_cmd)}")
    print()
    print(_table(results))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted; servers stopped")
