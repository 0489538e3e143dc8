"""The release store on SQLite and on a real PostgreSQL server: the same tests, both backends.

Concurrency is tested across processes (two workers deciding the same versions at the same
instant, a lock held by another process, a holder killed without releasing), because that is
what two console replicas or a step pod and a console are.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mlcicd.release import audit
from mlcicd.release.store import (
    ENV_STORE_URL,
    AuditEvent,
    DecisionExists,
    DecisionRow,
    ReleaseStore,
    ReleaseStoreError,
    decisions_table,
    events_table,
    release_store,
)
from mlcicd.release.store_import import import_jsonl
from tests.helpers.session import REPO_ROOT

pytestmark = pytest.mark.usefixtures("release_store_url")


def _worker(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.release_store_worker", *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
        start_new_session=True,
    )


def _decision(version: str, reviewer: str = "alice") -> tuple[DecisionRow, AuditEvent]:
    row = DecisionRow("m", version, "approved", reviewer, "2026-12-03T10:00:00+00:00", "ok", "a")
    return row, AuditEvent("approved", "m", version, reviewer, row.decided_at, reason="ok")


def test_events_come_back_in_the_order_they_were_written_per_model() -> None:
    store = release_store()
    first = AuditEvent("promoted", "m", "1", "ops", "2026-01-01T10:00:00+00:00", detail="é ✓")
    store.append(first)
    store.append(AuditEvent("approved", "other", "1", "ops", "2026-01-01T10:00:01+00:00"))
    store.append(AuditEvent("rolled_back", "m", "1", "ops", "2026-01-01T09:00:00+00:00"))
    assert [e.event for e in audit.read_events("m")] == ["promoted", "rolled_back"]
    assert audit.read_events("m")[0] == first
    assert len(audit.read_events()) == 3


def test_a_decision_is_taken_once_and_the_second_is_told_who_took_it() -> None:
    store = release_store()
    store.record_decision(*_decision("1", "alice"))
    with pytest.raises(DecisionExists) as refused:
        store.record_decision(*_decision("1", "bob"))
    assert refused.value.existing.reviewer == "alice"
    assert [e.actor for e in store.events("m")] == ["alice"]  # bob's event was rolled back
    assert store.decision("m", "1") == _decision("1", "alice")[0]
    assert store.decision("m", "2") is None


def test_an_abort_requested_elsewhere_reaches_the_rollout_through_the_store() -> None:
    """The console and a rollout running in a step pod share only the release store."""
    from mlcicd.release.rollout.aborts import abort_requested, clear_abort

    assert abort_requested("m", "production") is None
    console = _worker("abort", "m", "production")
    console.communicate(timeout=120)
    assert console.returncode == 0
    request = abort_requested("m", "production")
    assert request is not None and request["actor"] == "alice"
    assert request["reason"] == "the dashboard looks wrong"
    assert abort_requested("m", "staging") is None
    clear_abort("m", "production")
    assert abort_requested("m", "production") is None


def test_replicas_opening_an_empty_store_at_the_same_instant_all_succeed() -> None:
    start = f"{time.time() + 5:.3f}"  # all workers are imported by then
    workers = [_worker("open", start) for _ in range(4)]
    outputs = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0] * 4, [err[-2000:] for _, err in outputs]
    assert release_store().events() == []


def test_two_processes_deciding_the_same_versions_at_once_produce_one_decision_each() -> None:
    count = 25
    start = f"{time.time() + 6:.3f}"  # both workers are imported and connected by then
    workers = [_worker("decide-many", "race", str(count), start, f"w{i}") for i in (1, 2)]
    outputs = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [err[-2000:] for _, err in outputs]
    won = [line.split()[1] for out, _ in outputs for line in out.splitlines()]
    assert sorted(won, key=int) == [str(v) for v in range(1, count + 1)]
    store = release_store()
    with store.engine.connect() as connection:
        decided = connection.execute(select(func.count()).select_from(decisions_table)).scalar()
        events = connection.execute(select(func.count()).select_from(events_table)).scalar()
    assert decided == events == count


def test_a_lock_held_by_another_process_is_busy_until_it_is_released() -> None:
    holder = _worker("hold-lock", "release-m", "30", "4")
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        store = release_store()
        with store.lock("release-m", blocking=False) as acquired:
            assert acquired is False
        assert "pid" in store.lock_holder("release-m")
        with store.lock("release-other", blocking=False) as acquired:
            assert acquired is True
    finally:
        holder.communicate(timeout=60)
    assert holder.returncode == 0
    with release_store().lock("release-m", blocking=False) as acquired:
        assert acquired is True
    assert release_store().lock_holder("release-m") == ""


def test_a_holder_killed_mid_release_frees_the_lock_when_its_lease_runs_out() -> None:
    lease = 2.0
    holder = _worker("hold-lock", "release-m", str(lease), "600")
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    time.sleep(lease * 1.5)  # the holder renews its lease while it lives
    with release_store().lock("release-m", blocking=False) as acquired:
        assert acquired is False
    os.killpg(holder.pid, signal.SIGKILL)
    holder.communicate(timeout=30)
    time.sleep(lease + 0.5)
    with release_store().lock("release-m", blocking=False) as acquired:
        assert acquired is True


def test_an_earlier_jsonl_audit_log_is_imported_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, release_store_url: str
) -> None:
    monkeypatch.setenv("ML_CICD_HOME", str(tmp_path / "home"))
    legacy = tmp_path / "home" / "audit" / "events.jsonl"
    legacy.parent.mkdir(parents=True)
    lines = [
        {"event": "approved", "model_name": "old", "version": "1", "actor": "alice",
         "at": "2026-01-01T09:00:00+00:00", "reason": "fine", "report_sha256": "ab"},
        {"event": "promoted", "model_name": "old", "version": "1", "actor": "alice",
         "at": "2026-01-01T10:00:00+00:00", "environment": "production"},
        {"event": "rejected", "model_name": "old", "version": "1", "actor": "bob",
         "at": "2026-01-01T11:00:00+00:00", "reason": "late"},
    ]  # fmt: skip
    text = "".join(json.dumps(line) + "\n" for line in lines) + '{"event": "promo'  # a cut line
    legacy.write_text(text)
    store = release_store()
    assert [e.event for e in store.events("old")] == ["approved", "promoted", "rejected"]
    decision = store.decision("old", "1")
    assert decision is not None and (decision.decision, decision.reviewer) == ("approved", "alice")
    assert not legacy.exists() and legacy.with_name("events.jsonl.imported").is_file()
    # a crash between the import and the rename: the same file again adds nothing
    legacy.write_text(text)
    assert import_jsonl(ReleaseStore(release_store_url), legacy) == 0
    assert len(store.events("old")) == 3


def test_live_version_at_time_t_is_answered_from_the_store() -> None:
    from datetime import datetime

    for kind, version, at in [
        ("promoted", "1", "2026-01-01T10:00:00+00:00"),
        ("promotion_failed", "2", "2026-01-02T10:00:00+00:00"),
        ("promoted", "3", "2026-01-03T10:00:00+00:00"),
        ("rolled_back", "1", "2026-01-04T10:00:00+00:00"),
    ]:
        audit.append_event(AuditEvent(kind, "m", version, "ops", at, environment="production"))
    events = audit.read_events("m")
    assert audit.live_version_at(events, datetime.fromisoformat("2026-01-02T12:00:00+00:00")) == "1"
    assert audit.live_version_at(events, datetime.fromisoformat("2026-01-03T12:00:00+00:00")) == "3"
    assert audit.previous_live_version(events, "1") == "3"
    audit.append_event(AuditEvent("stopped", "m", "1", "ops", "2026-01-05T10:00:00+00:00",
                                  environment="production"))  # fmt: skip
    audit.append_event(AuditEvent("restarted", "m", "1", "ops", "2026-01-06T10:00:00+00:00",
                                  environment="production"))  # fmt: skip
    events = audit.read_events("m")
    assert (
        audit.live_version_at(events, datetime.fromisoformat("2026-01-05T12:00:00+00:00")) is None
    )
    assert audit.live_version_at(events, datetime.fromisoformat("2026-01-06T12:00:00+00:00")) == "1"


def test_an_unreachable_store_is_a_clear_error_without_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_STORE_URL, "postgresql+psycopg://ops:s3cret@127.0.0.1:1/releases")
    with pytest.raises(ReleaseStoreError) as refused:
        release_store()
    message = str(refused.value)
    assert "s3cret" not in message and "127.0.0.1:1/releases" in message
    assert ENV_STORE_URL in message
    monkeypatch.setenv(ENV_STORE_URL, "not a url")
    with pytest.raises(ReleaseStoreError, match="cannot be used"):
        release_store()
