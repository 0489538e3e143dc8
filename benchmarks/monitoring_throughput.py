"""Rows per second of the drift computation and of the monitor over a large request log.

Usage: python benchmarks/monitoring_throughput.py [--rows 1000000] [--rows-per-request 1]
       [--chunk-rows 20000] [--keep DIR]

Writes a synthetic request log of `--rows` predicted rows (Adult golden records, a third of
them shifted) into a temporary folder, then measures, in one process and one run:
- the drift computation alone: the rows as DataFrame chunks counted into the reference profile
  and judged (what the data step does to a training batch);
- the monitor end to end: the log streamed, parsed, windowed and judged
  (`build_monitoring_report`, what the monitoring pipeline's step runs);
- the same monitor over a tenth of the log, so the peak-memory growth of the two can be compared
  side by side (a streaming monitor grows by a constant, not with the log).
Nothing here starts a server. The log is deleted afterwards unless --keep names a folder.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # before site-packages: seldon-core ships a `tests` package

from mlcicd.config import load_config  # noqa: E402
from mlcicd.data.drift import batch_drift  # noqa: E402
from mlcicd.data.loading import feature_columns, load_datasets  # noqa: E402
from mlcicd.data.profile import build_profile  # noqa: E402
from mlcicd.monitoring.monitor import MonitoringContext, build_monitoring_report  # noqa: E402

START = datetime(2026, 12, 1, tzinfo=UTC)


def write_log(path: Path, records: list[dict[str, Any]], rows: int, per_request: int) -> int:
    """A request log with `rows` predicted rows over 12 hours; returns its size in bytes."""
    rng = np.random.default_rng(0)
    requests = max(1, rows // per_request)
    step = timedelta(hours=12) / requests
    with path.open("w", encoding="utf-8") as handle:
        for i in range(requests):
            batch = [records[(i * per_request + k) % len(records)] for k in range(per_request)]
            if i >= 2 * requests // 3:  # the last third drifts: older people
                batch = [{**r, "age": min(100, int(r["age"]) + 15)} for r in batch]
            probabilities = rng.beta(1, 3, size=per_request).round(6).tolist()
            entry = {
                "timestamp": (START + i * step).isoformat(),
                "request_id": f"r{i}",
                "model_name": "adult-income-classifier",
                "model_version": "1",
                "status": 200,
                "latency_ms": round(float(rng.exponential(4.0)) + 2.0, 3),
                "records": batch,
                "predictions": [">50K" if p >= 0.5 else "<=50K" for p in probabilities],
                "probabilities": probabilities,
                "error": None,
            }
            handle.write(json.dumps(entry) + "\n")
    return path.stat().st_size


def phase_result(rows: int, seconds: float, extra: dict[str, Any]) -> None:
    """One measurement as a JSON line on stdout, with this process's peak RSS."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": rows, "seconds": seconds, "max_rss_mib": peak, **extra}))


def setting(chunk_rows: int) -> tuple[Any, Any, Any, list[str], Any]:
    """Config, schema, reference profile, feature names and the golden frame."""
    config, schema = load_config("local")
    raw = config.model_dump(mode="json", by_alias=True)
    raw["monitoring"]["chunk_rows"] = chunk_rows
    config = type(config).model_validate(raw)
    train, golden = load_datasets(config.data, schema, config.seed)
    profile = build_profile(
        train,
        schema,
        model_name=config.model_name,
        label=config.data.label,
        data_fingerprint="benchmark",
        golden_probabilities=np.random.default_rng(1).beta(1, 3, size=len(golden)),
        golden_metrics={"roc_auc": 0.9, "accuracy": 0.85},
    )
    return config, schema, profile, feature_columns(config.data, schema), golden


def run_phase(args: argparse.Namespace) -> int:
    """In a fresh process, so its peak RSS is its own: the drift alone or the monitor."""
    config, schema, profile, features, golden = setting(args.chunk_rows)
    batch_drift(profile, [golden[features].head(50)], config.drift, "1", features)  # imports
    if args.phase == "drift":
        frame = golden[features]
        repeats = max(1, args.rows // len(frame))
        started = time.perf_counter()
        drift = batch_drift(profile, (frame for _ in range(repeats)), config.drift, "1", features)
        seconds = time.perf_counter() - started
        phase_result(repeats * len(frame), seconds, {"columns": len(drift.features)})
        return 0
    context = MonitoringContext("1", profile, 20.0, "benchmark")
    started = time.perf_counter()
    report = build_monitoring_report(
        config, schema, context, [str(args.log)], START, START + timedelta(hours=13)
    )
    seconds = time.perf_counter() - started
    rows = sum(w.traffic.predicted_rows for w in report.windows)
    drifted = sum(bool(w.drift.drifted_features) for w in report.windows)
    phase_result(rows, seconds, {"windows": len(report.windows), "drifted_windows": drifted})
    return 0


def measure(args: argparse.Namespace, phase: str, log: Path | None = None) -> dict[str, Any]:
    """Run one phase in a child process and read its JSON line."""
    command = [sys.executable, __file__, "--phase", phase, "--rows", str(args.rows),
               "--chunk-rows", str(args.chunk_rows)]  # fmt: skip
    if log is not None:
        command += ["--log", str(log)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    """Print the numbers docs/benchmarks.md records."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rows-per-request", type=int, default=1)
    parser.add_argument("--chunk-rows", type=int, default=20_000)
    parser.add_argument("--keep", type=Path, default=None)
    parser.add_argument("--phase", choices=("drift", "monitor"), help=argparse.SUPPRESS)
    parser.add_argument("--log", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase is not None:
        return run_phase(args)
    _, _, _, features, golden = setting(args.chunk_rows)
    records = [
        {k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
        for r in golden[features].to_dict("records")
    ]
    folder = Path(tempfile.mkdtemp(prefix="monitoring-bench-"))
    try:
        big, small = folder / "requests-v1.jsonl", folder / "small" / "requests-v1.jsonl"
        small.parent.mkdir()
        started = time.perf_counter()
        size = write_log(big, records, args.rows, args.rows_per_request)
        write_log(small, records, args.rows // 10, args.rows_per_request)
        print(f"log: {args.rows:,} rows in {size / 2**20:.0f} MiB "
              f"({args.rows_per_request} row(s)/request), written in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        drift = measure(args, "drift")
        print(f"drift computation: {drift['rows']:,} rows in {drift['seconds']:.2f} s = "
              f"{drift['rows'] / drift['seconds']:,.0f} rows/s ({drift['columns']} columns), "
              f"max RSS {drift['max_rss_mib']:.0f} MiB")  # fmt: skip
        runs = [("1/10 log", measure(args, "monitor", small)),
                ("full log", measure(args, "monitor", big))]  # fmt: skip
        for label, run in runs:
            rate = run["rows"] / run["seconds"]
            print(f"monitor, {label}: {run['rows']:,} rows in {run['seconds']:.2f} s = "
                  f"{rate:,.0f} rows/s, max RSS {run['max_rss_mib']:.0f} MiB, "
                  f"{run['windows']} windows, {run['drifted_windows']} with drift")  # fmt: skip
        tenth, full = runs[0][1], runs[1][1]
        print(f"max RSS full / tenth: {full['max_rss_mib'] / tenth['max_rss_mib']:.2f}x for 10x "
              "the rows (a process that loaded the log would grow with it)")  # fmt: skip
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            shutil.copy2(big, args.keep / big.name)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
