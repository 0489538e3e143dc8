"""Decision records: who/when/why/which report, exactly once, and never on a failed or stale report.

Versions are registered by hand in the session's real MLflow registry (a report artifact and the
lineage tags a training run writes, and the staging verdict its staging step records), so every
rule is checked without training a model. Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from mlflow import MlflowClient

from mlcicd.release.approvals import (
    DECISIONS,
    AlreadyDecided,
    ApprovalError,
    ForgedApproval,
    GatesFailed,
    NotApproved,
    NotStaged,
    StaleReport,
    decide,
    pending_candidates,
    recorded_decision,
    require_approved,
)
from mlcicd.release.audit import AuditEvent, append_event, live_version_at, now_utc, read_events
from mlcicd.release.signing import ENV_SIGNING_KEY
from mlcicd.release.store import release_store
from mlcicd.release.store_import import import_jsonl
from tests.helpers.registry import register_by_hand
from tests.helpers.session import REPO_ROOT

pytestmark = pytest.mark.usefixtures("release_store_url")


@pytest.fixture
def client(zenml_client, tracking_uri) -> MlflowClient:
    return MlflowClient(tracking_uri=tracking_uri)


@pytest.fixture
def name() -> str:
    return f"approvals-{uuid.uuid4().hex[:8]}"


def _events(name: str, version: str) -> list[AuditEvent]:
    """The version's decision events (register_by_hand also records its staging verdict)."""
    return [e for e in read_events(name) if e.version == version and e.event in DECISIONS]


def test_an_approval_is_recorded_on_the_version_and_in_the_audit_log(client, name) -> None:
    version, report = register_by_hand(client, name)
    record = decide(client, name, version, "approved", "alice", "  metrics hold  ", report.sha256())
    tags = client.get_model_version(name, version).tags
    assert tags["approval_decision"] == "approved"
    assert tags["approval_reviewer"] == "alice"
    assert tags["approval_reason"] == "metrics hold"
    assert tags["approval_report_sha256"] == report.sha256()
    decided = datetime.fromisoformat(tags["approval_time"])
    assert decided.tzinfo is not None and abs(datetime.now(UTC) - decided) < timedelta(minutes=1)
    [event] = _events(name, version)
    assert (event.event, event.actor, event.reason, event.report_sha256) == (
        "approved", "alice", "metrics hold", report.sha256(),
    )  # fmt: skip
    assert record.decided_at == event.at == tags["approval_time"]
    assert require_approved(client, name, version) == record

    with pytest.raises(AlreadyDecided, match=f"version {version} was already approved by alice"):
        decide(client, name, version, "rejected", "bob", "changed my mind", report.sha256())
    assert len(_events(name, version)) == 1
    assert client.get_model_version(name, version).tags["approval_reviewer"] == "alice"


@pytest.mark.parametrize(
    ("reviewer", "reason", "message"),
    [
        ("alice", "", "needs a written reason"),
        ("alice", "  \n ", "needs a written reason"),
        ("", "fine by me", "only an authenticated reviewer"),
        ("alice", "x" * 2001, "too long"),
    ],
)
def test_bad_input_records_nothing(client, name, reviewer, reason, message) -> None:
    version, report = register_by_hand(client, name)
    with pytest.raises(ApprovalError, match=message):
        decide(client, name, version, "approved", reviewer, reason, report.sha256())
    assert "approval_decision" not in client.get_model_version(name, version).tags
    assert _events(name, version) == []


def test_unknown_version_and_unknown_decision_are_clear_errors(client, name) -> None:
    version, report = register_by_hand(client, name)
    with pytest.raises(ApprovalError, match=f"model '{name}' has no version '99'"):
        decide(client, name, "99", "approved", "alice", "looks good", report.sha256())
    with pytest.raises(ApprovalError, match="has no version 'abc'"):
        decide(client, name, "abc", "approved", "alice", "looks good", report.sha256())
    with pytest.raises(ApprovalError, match="unknown decision 'maybe'"):
        decide(client, name, version, "maybe", "alice", "looks good", report.sha256())


def test_a_report_that_changed_since_it_was_shown_cannot_be_decided(client, name) -> None:
    version, report = register_by_hand(client, name)
    with pytest.raises(StaleReport, match="changed since it was shown"):
        decide(client, name, version, "approved", "alice", "looks good", "0" * 64)
    # the stored report no longer matches its recorded sha256 (edited after registration)
    client.set_model_version_tag(name, version, "evaluation_report_sha256", "f" * 64)
    with pytest.raises(ApprovalError, match="does not match its recorded sha256"):
        decide(client, name, version, "approved", "alice", "looks good", report.sha256())
    assert "approval_decision" not in client.get_model_version(name, version).tags
    assert _events(name, version) == []


def test_a_version_whose_gates_failed_can_be_rejected_but_never_approved(client, name) -> None:
    version, report = register_by_hand(client, name, "evaluation_report_rejected.json")
    assert not report.passed
    with pytest.raises(
        GatesFailed, match=f"version {version} cannot be approved: its gates failed"
    ):
        decide(client, name, version, "approved", "alice", "ship it", report.sha256())
    assert pending_candidates(client, name) == []
    decide(client, name, version, "rejected", "alice", "gates failed", report.sha256())
    with pytest.raises(NotApproved, match="was rejected by alice"):
        require_approved(client, name, version)


def test_only_versions_awaiting_a_decision_can_be_decided(client, name) -> None:
    version, report = register_by_hand(client, name, alias="")
    with pytest.raises(ApprovalError, match="does not await a decision"):
        decide(client, name, version, "approved", "alice", "looks good", report.sha256())


def test_promotion_needs_a_valid_approval(client, name) -> None:
    version, report = register_by_hand(client, name)
    with pytest.raises(NotApproved, match="has not been approved"):
        require_approved(client, name, version)
    decide(client, name, version, "approved", "alice", "looks good", report.sha256())
    require_approved(client, name, version)
    # the report itself replaced after the approval (new numbers, sha256 tag updated to match)
    changed = report.model_copy(update={"threshold": report.threshold + 0.01})
    run_id = client.get_model_version(name, version).run_id
    client.log_text(run_id, changed.model_dump_json(indent=2), "evaluation/report.json")
    client.set_model_version_tag(name, version, "evaluation_report_sha256", changed.sha256())
    with pytest.raises(NotApproved, match="changed after it was approved"):
        require_approved(client, name, version)


def test_pending_lists_undecided_passed_candidates_newest_first(client, name) -> None:
    first, report = register_by_hand(client, name, alias="challenger")
    second, _ = register_by_hand(client, name, alias="staging")
    third, _ = register_by_hand(client, name, alias="")  # no candidate alias
    pending = pending_candidates(client, name)
    assert [c.info.version for c in pending] == [second, first]
    assert pending[0].report_sha256 == report.sha256()
    decide(client, name, second, "rejected", "bob", "not convincing", report.sha256())
    assert [c.info.version for c in pending_candidates(client, name)] == [first]
    assert third not in [c.info.version for c in pending_candidates(client, name)]


@pytest.mark.parametrize("kinds", [("approved",) * 8, ("approved", "rejected") * 4])
def test_reviewers_deciding_at_once_produce_exactly_one_decision(
    tracking_uri, zenml_client, kinds
) -> None:
    setup = MlflowClient(tracking_uri=tracking_uri)
    name = f"race-{uuid.uuid4().hex[:8]}"
    version, report = register_by_hand(setup, name)
    barrier = threading.Barrier(len(kinds))
    won: list[str] = []
    lost: list[str] = []

    def reviewer(i: int, kind: str) -> None:
        client = MlflowClient(tracking_uri=tracking_uri)
        barrier.wait()
        try:
            decide(client, name, version, kind, f"reviewer-{i}", "my reason", report.sha256())
            won.append(f"reviewer-{i}")
        except AlreadyDecided:
            lost.append(f"reviewer-{i}")

    threads = [threading.Thread(target=reviewer, args=(i, k)) for i, k in enumerate(kinds)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(won) == 1 and len(lost) == len(kinds) - 1
    [event] = _events(name, version)
    assert event.actor == won[0]
    assert setup.get_model_version(name, version).tags["approval_reviewer"] == won[0]


def test_two_processes_deciding_at_once_produce_exactly_one_decision(
    tracking_uri, zenml_client
) -> None:
    setup = MlflowClient(tracking_uri=tracking_uri)
    name = f"race-{uuid.uuid4().hex[:8]}"
    version, report = register_by_hand(setup, name)
    start = f"{time.time() + 8:.3f}"  # both processes have imported MLflow by then
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.helpers.release_store_worker",
                "decide",
                tracking_uri,
                name,
                version,
                report.sha256(),
                reviewer,
                start,
            ],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for reviewer in ("alice", "bob")
    ]
    outputs = [w.communicate(timeout=180) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [err[-2000:] for _, err in outputs]
    assert sorted(out.strip() for out, _ in outputs) == ["lost", "won"]
    winner = ["alice", "bob"][[out.strip() for out, _ in outputs].index("won")]
    [event] = _events(name, version)
    assert event.actor == winner == recorded_decision(name, version).reviewer  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("staging", "message"),
    [
        ("staging_failed", "its staging smoke test failed at .*3 label mismatches"),
        ("", "it has not been smoke-tested in staging"),
    ],
)
def test_a_version_without_a_passed_staging_smoke_test_cannot_be_approved(
    client, name, staging, message
) -> None:
    version, report = register_by_hand(client, name, staging=staging)
    assert pending_candidates(client, name) == []
    with pytest.raises(NotStaged, match=f"version {version} cannot be approved: {message}"):
        decide(client, name, version, "approved", "alice", "ship it", report.sha256())
    assert recorded_decision(name, version) is None
    assert "approval_decision" not in client.get_model_version(name, version).tags
    decide(client, name, version, "rejected", "alice", "staging failed", report.sha256())


def test_a_staging_failure_after_approval_blocks_the_promotion(client, name) -> None:
    version, report = register_by_hand(client, name)
    decide(client, name, version, "approved", "alice", "looks good", report.sha256())
    append_event(
        AuditEvent("staging_failed", name, version, "training pipeline", now_utc(),
                   report_sha256=report.sha256(), detail="SmokeTestFailed: 500 on /predict")
    )  # fmt: skip
    with pytest.raises(NotApproved, match="cannot be promoted: its staging smoke test failed"):
        require_approved(client, name, version)
    require_approved(client, name, version, staged=False)  # a rollback may still serve it


def test_a_version_approved_before_the_store_can_be_rolled_back_to_not_promoted(
    client, name, tmp_path, monkeypatch
) -> None:
    version, report = register_by_hand(client, name, staging="")
    legacy = tmp_path / "home" / "audit" / "events.jsonl"
    legacy.parent.mkdir(parents=True)
    legacy.write_text(json.dumps({
        "event": "approved", "model_name": name, "version": version, "actor": "alice",
        "at": "2026-11-01T10:00:00+00:00", "reason": "before the store",
        "report_sha256": report.sha256(),
    }) + "\n")  # fmt: skip
    import_jsonl(release_store(), legacy)
    assert require_approved(client, name, version, staged=False).reviewer == "alice"
    with pytest.raises(NotApproved, match="cannot be promoted: it has not been smoke-tested"):
        require_approved(client, name, version)


def test_an_approval_tag_written_by_hand_does_not_approve(client, name) -> None:
    version, report = register_by_hand(client, name)
    for key, value in {
        "approval_decision": "approved", "approval_reviewer": "mallory",
        "approval_time": now_utc(), "approval_reason": "trust me",
        "approval_report_sha256": report.sha256(),
    }.items():  # fmt: skip
        client.set_model_version_tag(name, version, key, value)
    with pytest.raises(NotApproved, match="has not been approved .its approval_. tags were not"):
        require_approved(client, name, version)


@pytest.mark.parametrize(
    ("tag", "value"),
    [("approval_reviewer", "mallory"), ("approval_report_sha256", "0" * 64),
     ("approval_signature", "v1:" + "0" * 64)],
)  # fmt: skip
def test_an_approval_tag_edited_by_hand_is_detected_and_refused(client, name, tag, value) -> None:
    version, report = register_by_hand(client, name)
    decide(client, name, version, "approved", "alice", "looks good", report.sha256())
    assert client.get_model_version(name, version).tags["approval_signature"].startswith("v1:")
    client.set_model_version_tag(name, version, tag, value)
    with pytest.raises(ForgedApproval, match="written or changed by hand .recorded: approved by"):
        require_approved(client, name, version)


def test_tags_signed_with_another_key_are_refused(client, name, monkeypatch) -> None:
    version, report = register_by_hand(client, name)
    monkeypatch.setenv(ENV_SIGNING_KEY, "k" * 40)  # e.g. a registry copied from another team
    decide(client, name, version, "approved", "alice", "looks good", report.sha256())
    require_approved(client, name, version)
    monkeypatch.setenv(ENV_SIGNING_KEY, "z" * 40)
    with pytest.raises(ForgedApproval):
        require_approved(client, name, version)


def test_live_version_at_answers_from_promotions_and_rollbacks() -> None:
    def event(kind: str, version: str, at: str) -> AuditEvent:
        return AuditEvent(kind, "m", version, "ops", at, environment="production")

    events = [
        event("approved", "1", "2026-01-01T09:00:00+00:00"),
        event("promoted", "1", "2026-01-01T10:00:00+00:00"),
        event("promotion_failed", "2", "2026-01-02T10:00:00+00:00"),
        event("promoted", "3", "2026-01-03T10:00:00+00:00"),
        event("rolled_back", "1", "2026-01-04T10:00:00+00:00"),
    ]
    at = lambda s: datetime.fromisoformat(f"2026-01-{s}+00:00")  # noqa: E731
    assert live_version_at(events, at("01T09:59:59")) is None
    assert live_version_at(events, at("01T10:00:00")) == "1"
    assert live_version_at(events, at("02T12:00:00")) == "1"
    assert live_version_at(events, at("03T12:00:00")) == "3"
    assert live_version_at(events, at("05T00:00:00")) == "1"
