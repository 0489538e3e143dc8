"""A second process acting on the release store, for the concurrency tests.

`python -m tests.helpers.release_store_worker decide-many MODEL N START WORKER` records a decision on
versions 1..N of MODEL, starting at epoch START (so two workers collide), and prints one line
`won <version>` per decision it took. `hold-lock NAME LEASE SECONDS` takes a lock, prints
`holding`, and sleeps. `abort MODEL ENV` requests a rollout abort. `open START` opens the store (creating its tables) at epoch START. `decide TRACKING_URI MODEL VERSION SHA REVIEWER START` runs the full
`decide()` and prints `won` or `lost`. The store is the one ML_CICD_RELEASE_STORE_URL names.
"""

from __future__ import annotations

import sys
import time


def _wait_until(start: float) -> None:
    time.sleep(max(0.0, start - time.time()))


def main(argv: list[str]) -> int:
    from mlcicd.release.store import AuditEvent, DecisionExists, DecisionRow, release_store

    mode, *args = argv
    if mode == "abort":  # the console, on another machine than the rollout
        from mlcicd.release.rollout.aborts import request_abort

        request_abort(args[0], args[1], "alice", "the dashboard looks wrong")
        return 0
    if mode == "open":  # several processes opening an empty store at the same instant
        _wait_until(float(args[0]))
        release_store()
        return 0
    store = release_store()
    if mode == "decide-many":
        model, count, start, worker = args[0], int(args[1]), float(args[2]), args[3]
        _wait_until(start)
        for version in range(1, count + 1):
            row = DecisionRow(model, str(version), "approved", worker,
                              "2026-12-03T00:00:00+00:00", "race", "0" * 64)  # fmt: skip
            event = AuditEvent("approved", model, str(version), row.reviewer, row.decided_at)
            try:
                store.record_decision(row, event)
                print(f"won {version}", flush=True)
            except DecisionExists:
                pass
        return 0
    if mode == "hold-lock":
        name, lease, seconds = args[0], float(args[1]), float(args[2])
        with store.lock(name, lease_seconds=lease):
            print("holding", flush=True)
            time.sleep(seconds)
        return 0
    if mode == "decide":
        from mlflow import MlflowClient

        from mlcicd.release.approvals import AlreadyDecided, decide

        tracking_uri, name, number, sha, who, begin = args
        client = MlflowClient(tracking_uri=tracking_uri)
        _wait_until(float(begin))
        try:
            decide(client, name, number, "approved", who, "looks right", sha)
            print("won", flush=True)
        except AlreadyDecided:
            print("lost", flush=True)
        return 0
    raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
