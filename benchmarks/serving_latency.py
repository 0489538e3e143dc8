"""Latency and throughput of the project's model server (ONNX and pyfunc) against the references.

Usage: python benchmarks/serving_latency.py [--requests 300] [--batch-requests 30]
       [--version-label LABEL]

One registered MLflow model version, trained here on the embedded Adult data with the project's
own functions, packaged to ONNX by the package stage's function and registered in a throwaway
SQLite store, is served four ways in one run, side by side:
- `seldon-core onnx`: the project's server as it deploys by default (the ONNX export in
  onnxruntime), started by `LocalSeldonBackend.deploy` with the real staging smoke test;
- `seldon-core pyfunc`: the same server with `runtime: pyfunc` (the MLflow pyfunc);
- `mlflow models serve`: MLflow's FastAPI/uvicorn scoring server on the same version;
- `seldon-core trivial`: seldon-core's own wrapper answering a model that does nothing
  (`benchmarks/trivial_seldon_model.py`), the floor of any seldon-based server.
It prints the deploy time of each runtime (start, load, smoke test), the table, and the ratios
the targets are stated in (single-row p50 versus the trivial model; rows/s versus MLflow).
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
from mlcicd.packaging.package import package_model
from mlcicd.registry.versions import log_packaged_model, register_version
from mlcicd.release.smoke_test import SmokeResult, _json_value, row_payload, smoke_verifier
from mlcicd.serving.contract import ModelRef, ServingError
from mlcicd.serving.local.backend import LocalSeldonBackend
from mlcicd.serving.local.processes import free_port
from mlcicd.serving.server.protocol import PREDICTIONS_PATH, READINESS_PATH
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
    exported, parity = package_model(model, golden, config.packaging)
    if parity.error or not exported:
        sys.exit(f"the ONNX export failed: {parity.error}")
    print(f"ONNX export: {parity.size_bytes:,} bytes, parity {parity.max_abs_difference:.2g}")
    with mlflow.start_run(experiment_id=experiment_id):
        model_uri = log_packaged_model(model, golden, exported)
    version = register_version(client, MODEL_NAME, model_uri, tags={}, description="benchmark")
    return Setup(tracking_uri, version, model, golden, config.deployment.max_rows)


def _seldon_backend(
    tmp: Path, tracking_uri: str, max_rows: int, runtime: str
) -> LocalSeldonBackend:
    """A backend of its own: private root under `tmp`, a free port, nothing shared with `run.py`."""
    return LocalSeldonBackend(
        root=tmp / f"serving-{runtime}",
        ports={ENVIRONMENT: free_port(HOST)},
        tracking_uri=tracking_uri,
        host=HOST,
        startup_timeout=STARTUP_TIMEOUT_S,
        max_rows=max_rows,
        runtime=runtime,
    )


def _deploy(backend: LocalSeldonBackend, setup: Setup) -> tuple[str, float]:
    """Deploy the version as staging does (start, load, smoke test); its server URL and seconds."""
    rows = setup.golden.head(20)
    results: list[SmokeResult] = []
    verify = smoke_verifier(
        ENVIRONMENT, setup.model, rows, MODEL_NAME, setup.version, 250.0, 1e-6,
        setup.max_rows, results,
    )  # fmt: skip
    model_ref = ModelRef(MODEL_NAME, setup.version, f"models:/{MODEL_NAME}/{setup.version}")
    started = time.perf_counter()
    backend.deploy(ENVIRONMENT, model_ref, verify=verify)
    seconds = time.perf_counter() - started
    record = backend.read_record(ENVIRONMENT)
    assert record is not None and record.stable is not None
    return f"http://{HOST}:{record.stable.port}{PREDICTIONS_PATH}", seconds


@contextlib.contextmanager
def _trivial_server(tmp: Path) -> Iterator[str]:
    """seldon-core's wrapper around `TrivialModel`, with the project's launcher; yields its URL."""
    port = free_port(HOST)
    command = [
        sys.executable, "-m", "mlcicd.serving.local.serve",
        "--host", HOST, "--http-port", str(port), "--parameters", "[]",
        "--interface", "benchmarks.trivial_seldon_model.TrivialModel",
    ]  # fmt: skip
    log_path = tmp / "trivial.log"
    (tmp / "trivial-run").mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "XDG_RUNTIME_DIR": str(tmp / "trivial-run")}
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        _wait_for(process, f"http://{HOST}:{port}{READINESS_PATH}", log_path, "trivial seldon")
        yield f"http://{HOST}:{port}{PREDICTIONS_PATH}"
    finally:
        _stop_group(process)


def _wait_for(process: subprocess.Popen[bytes], url: str, log_path: Path, what: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise ServingError(f"{what} exited:\n{_tail(log_path)}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise ServingError(
                f"{what} not ready after {STARTUP_TIMEOUT_S:.0f} s:\n{_tail(log_path)}"
            )
        time.sleep(0.25)


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
        _wait_for(process, f"http://{HOST}:{port}/ping", log_path, "mlflow models serve")
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
    """Every model server answers 200 with the offline model's probabilities; the max diff."""
    rows = golden.iloc[:AGREEMENT_ROWS]
    offline = model.predict_proba(rows)
    worst = 0.0
    for server in servers:
        answer = _post(session, server, server.body(rows)).json()
        answers = np.asarray(server.probabilities(answer), dtype=np.float64)
        off = float(np.max(np.abs(answers - offline)))
        print(f"{server.name}: HTTP 200, max |p - offline p| = {off:.3g}", flush=True)
        worst = max(worst, off)
    return worst


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


ONNX, PYFUNC = "seldon-core onnx", "seldon-core pyfunc"
MLFLOW, TRIVIAL = "mlflow models serve", "seldon-core trivial"


def _targets(results: list[Row], deploy_seconds: dict[str, float]) -> list[str]:
    """The issue's targets as ratios measured in this run (printed, never asserted)."""
    by = {(r.server, r.measurement, r.batch_size): r for r in results}
    onnx, trivial = by[(ONNX, "latency", 1)], by[(TRIVIAL, "latency", 1)]
    lines = [
        f"single-row p50: onnx {onnx.p50_ms:.2f} ms / trivial {trivial.p50_ms:.2f} ms = "
        f"{onnx.p50_ms / trivial.p50_ms:.2f}x (target <= 1.5x)"
    ]
    for size in BATCH_SIZES:
        ours, theirs = by[(ONNX, "throughput", size)], by[(MLFLOW, "throughput", size)]
        lines.append(
            f"rows/s at batch {size}: onnx {ours.rows_per_s:,.0f} / mlflow "
            f"{theirs.rows_per_s:,.0f} = {ours.rows_per_s / theirs.rows_per_s:.2f}x (target >= 1x)"
        )
    lines += [
        f"deploy time ({runtime}: start, load, smoke test): {seconds:.1f} s"
        for runtime, seconds in deploy_seconds.items()
    ]
    return lines


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
        backends = {
            runtime: _seldon_backend(tmp, setup.tracking_uri, setup.max_rows, runtime)
            for runtime in ("onnx", "pyfunc")
        }
        urls: dict[str, str] = {}
        deploy_seconds: dict[str, float] = {}
        try:
            for runtime, backend in backends.items():
                urls[runtime], deploy_seconds[runtime] = _deploy(backend, setup)
                print(f"deployed ({runtime}) in {deploy_seconds[runtime]:.1f} s", flush=True)
            started = time.perf_counter()
            with (
                _mlflow_server(tmp, setup.tracking_uri, version) as mlflow_url,
                _trivial_server(tmp) as trivial_url,
            ):
                print(f"mlflow models serve and the trivial server up in "
                      f"{time.perf_counter() - started:.1f} s")  # fmt: skip
                names = list(model.feature_names)
                seldon_body = _seldon_body(names)
                servers = [
                    Server(ONNX, urls["onnx"], seldon_body, _seldon_probabilities),
                    Server(PYFUNC, urls["pyfunc"], seldon_body, _seldon_probabilities),
                    Server(MLFLOW, mlflow_url, _mlflow_body(names), _mlflow_probabilities),
                    Server(TRIVIAL, trivial_url, seldon_body, _seldon_probabilities),
                ]
                with requests.Session() as session:
                    diff = _check_agreement(session, servers[:3], golden, model)
                print(
                    f"max |p - offline p| over {AGREEMENT_ROWS} rows, all model servers: {diff:.3g}"
                )
                results = _measure(servers, golden, args.requests, args.batch_requests)
        finally:
            for backend in backends.values():
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
    print()
    for line in _targets(results, deploy_seconds):
        print(line)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted; servers stopped")
