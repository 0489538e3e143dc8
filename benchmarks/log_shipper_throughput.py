"""How fast the pods' log shipper moves a request log into S3, and what memory it needs.

Usage: python benchmarks/log_shipper_throughput.py [--lines 200000] [--keep DIR]

Writes a request log of `--lines` lines (Adult golden records, as the server logs them) with the
server's own rotating logger (50 MiB files, so a large log has rotated backups), starts a local
S3 API (moto) on 127.0.0.1, and measures side by side in one run:
- the floor: reading the same files and writing them once to another file with an fsync (what
  any shipper must at least do on this disk);
- the shipper as the sidecar runs it (`python -m mlcicd.serving.server.log_shipper`), draining
  the whole backlog: time until every line is staged, then until every object is put (SIGTERM),
  lines/s and MiB/s, and its peak RSS.
It then checks that the objects hold every line exactly once. The S3 server and the shipper are
stopped before it exits; the log is deleted unless --keep names a folder.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # before site-packages: seldon-core ships a `tests` package

import boto3  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

from mlcicd.config import load_config  # noqa: E402
from mlcicd.data.loading import feature_columns, load_datasets  # noqa: E402
from mlcicd.serving.server.request_log import open_request_log  # noqa: E402

BUCKET = "bench"
PREFIX = "request-logs/production"
START = datetime(2026, 12, 1, tzinfo=UTC)


def write_log(path: Path, lines: int) -> list[Path]:
    """The log as the server writes it (rotating logger); its files, oldest first."""
    config, schema = load_config("local")
    _, golden = load_datasets(config.data, schema, config.seed)
    records = golden[feature_columns(config.data, schema)].head(2000).to_dict("records")
    logger = open_request_log(str(path))
    step = timedelta(hours=6) / lines
    for i in range(lines):
        record = {
            k: (None if isinstance(v, float) and v != v else v)
            for k, v in records[i % 2000].items()
        }
        logger.info(
            json.dumps(
                {
                    "timestamp": (START + i * step).isoformat(),
                    "request_id": f"r{i}",
                    "model_name": "adult-income-classifier",
                    "model_version": "1",
                    "status": 200,
                    "latency_ms": 5.0,
                    "records": [record],
                    "predictions": ["<=50K"],
                    "probabilities": [0.25],
                    "error": None,
                }
            )
        )
    for handler in logger.handlers:
        handler.close()
    backups = sorted(path.parent.glob(path.name + ".*"), key=lambda p: -int(p.suffix[1:]))
    return [*backups, path]


def copy_floor(files: list[Path], target: Path) -> float:
    """Seconds to read the files and write them once, fsynced."""
    started = time.perf_counter()
    with target.open("wb") as out:
        for source in files:
            with source.open("rb") as handle:
                shutil.copyfileobj(handle, out, 1024 * 1024)
        out.flush()
        os.fsync(out.fileno())
    return time.perf_counter() - started


def run_shipper(log: Path, state: Path, endpoint: str) -> dict[str, float]:
    """The sidecar's process over the backlog: seconds to read it all, to put it all, peak RSS."""
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    command = [
        sys.executable, "-m", "mlcicd.serving.server.log_shipper", "--log", str(log),
        "--state-dir", str(state), "--url", f"s3://{BUCKET}/{PREFIX}", "--endpoint-url",
        endpoint, "--region", "us-east-1", "--upload-every", "3600", "--poll", "0.05",
    ]  # fmt: skip
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    staged_at = None
    try:
        deadline = started + 1800
        while time.perf_counter() < deadline:
            try:  # read to the end of the live log (sealed hours are put as they complete)
                position = json.loads((state / "position.json").read_text())
                current = log.stat()
                done = (position["inode"], position["offset"]) == (current.st_ino, current.st_size)
            except (FileNotFoundError, ValueError):
                done = False
            if done:
                staged_at = time.perf_counter()
                break
            time.sleep(0.05)
        if staged_at is None:
            raise SystemExit("the shipper did not read the whole log within 30 minutes")
        peak = _peak_rss_mib(process.pid)
        process.send_signal(signal.SIGTERM)
        while process.poll() is None and time.perf_counter() < deadline:
            peak = max(peak, _peak_rss_mib(process.pid))  # the puts on shutdown
            time.sleep(0.02)
        code = process.wait(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if code != 0:
        raise SystemExit(f"the shipper exited {code}")
    finished = time.perf_counter()
    return {"staged_s": staged_at - started, "total_s": finished - started, "rss_mib": peak}


def _peak_rss_mib(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    """Exit 0 when every line reached S3 exactly once."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request lines
    folder = Path(tempfile.mkdtemp(prefix="shipper-bench-"))
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        s3 = boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id="bench", aws_secret_access_key="bench",  # noqa: S106 - moto
        )  # fmt: skip
        s3.create_bucket(Bucket=BUCKET)
        log = folder / "pod" / "requests.jsonl"
        started = time.perf_counter()
        files = write_log(log, args.lines)
        total = sum(f.stat().st_size for f in files)
        mib = total / 2**20
        print(
            f"log: {args.lines:,} lines in {mib:.0f} MiB ({len(files)} file(s) after rotation), "
            f"written in {time.perf_counter() - started:.1f} s"
        )
        floor = copy_floor(files, folder / "copy.jsonl")
        print(f"floor (read + write + fsync once): {floor:.2f} s = {mib / floor:.0f} MiB/s")
        timing = run_shipper(log, folder / "pod" / "shipper", endpoint)
        staged, whole = timing["staged_s"], timing["total_s"]
        print(
            f"shipper, read to the end: {staged:.2f} s = {args.lines / staged:,.0f} lines/s, "
            f"{mib / staged:.0f} MiB/s ({staged / floor:.1f}x the floor, incl. ~1 s start-up)"
        )
        print(
            f"shipper, all objects put: {whole:.2f} s = {args.lines / whole:,.0f} lines/s; "
            f"max RSS {timing['rss_mib']:.0f} MiB"
        )
        keys = [
            item["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=PREFIX)
            for item in page.get("Contents", [])
        ]
        shipped = 0
        seen: set[str] = set()
        for key in keys:
            body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
            for line in body.splitlines():
                seen.add(json.loads(line)["request_id"])
                shipped += 1
        ok = shipped == len(seen) == args.lines
        print(f"objects: {len(keys)}; lines shipped {shipped:,}, distinct {len(seen):,}: "
              f"{'every line once' if ok else 'MISMATCH'}")  # fmt: skip
        return 0 if ok else 1
    finally:
        server.stop()
        if args.keep:
            shutil.copytree(folder, args.keep, dirs_exist_ok=True)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
