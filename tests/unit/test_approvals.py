"""Decision records: who/when/why/which report, exactly once, and never on a failed or stale report.

Versions are registered by hand in the session's real MLflow registry (a report artifact and the
lineage tags a training run writes), so every rule is checked without training a model.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from mlflow import MlflowClient

from mlcicd.release import audit
from mlcicd.release.approvals import (
    AlreadyDecided,
    ApprovalError,
    GatesFailed,
    NotApproved,
    StaleReport,
    decide,
    pending_candidates,
    require_approved,
)
from mlcicd.release.audit import AuditEvent, live_version_at, read_events
from tests.helpers.registry import register_by_hand


@pytest.fixture
def client(zenml_client, tracking_uri) -> MlflowClient:
    return MlflowClient(tracking_uri=tracking_uri)


@pytest.fixture
def name() -> str:
    return f"approvals-{uuid.uuid4().hex[:8]}"


def _events(name: str, version: str) -> list[AuditEvent]:
    return [e for e in read_events(name) if e.version == version]


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
    client.set_model_version_tag(name, version, "approval_report_sha256", "0" * 64)
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


def test_the_audit_log_is_append_only_and_survives_a_cut_line(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ML_CICD_HOME", str(tmp_path))
    audit.append_event(AuditEvent("approved", "m", "1", "a", "2026-01-01T00:00:00+00:00"))
    with audit.audit_log_path().open("a") as handle:
        handle.write('{"event": "promoted", "model_na')  # a crash mid-write
    audit.append_event(AuditEvent("rejected", "m", "2", "b", "2026-01-01T00:00:01+00:00"))
    assert [e.event for e in read_events("m")] == ["approved", "rejected"]
    assert audit.audit_log_path() == tmp_path.resolve() / "audit" / "events.jsonl"
