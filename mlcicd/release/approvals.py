"""Manual approval before production: decision records and their rules, and pending candidates.

A decision (approve or reject) lives in the release store (`mlcicd.release.store`), the
authority the promotion checks; the (model, version) primary key there makes it exactly-once
across processes and console replicas, so two reviewers (or a double click) produce one decision.
It is mirrored onto the MLflow model version as tags for people browsing the registry. Only a
version whose staging smoke test passed on its current report can be approved. run.py, the
promotion pipeline and the console all call these functions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal

from mlcicd.errors import PipelineInputError
from mlcicd.registry.versions import VersionInfo, get_version
from mlcicd.release.audit import AuditEvent, now_utc, read_events
from mlcicd.release.signing import sign, verify
from mlcicd.release.store import DecisionExists, DecisionRow, release_store

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from mlcicd.reporting.model import EvaluationReport

DecisionKind = Literal["approved", "rejected"]
DECISIONS: tuple[DecisionKind, ...] = ("approved", "rejected")
CANDIDATE_ALIASES = ("staging", "challenger")
REPORT_SHA_TAG = "evaluation_report_sha256"
TAG_DECISION = "approval_decision"
TAG_REVIEWER = "approval_reviewer"
TAG_TIME = "approval_time"
TAG_REASON = "approval_reason"
TAG_REPORT_SHA = "approval_report_sha256"
TAG_SIGNATURE = "approval_signature"
MAX_REASON_CHARS = 2000
MIN_REASON_CHARS = 3
STAGING_EVENTS = ("staging_passed", "staging_failed")


class ApprovalError(PipelineInputError):
    """A decision or promotion was refused; the message says why and what to do."""


class AlreadyDecided(ApprovalError):
    """Someone decided on this version first; nothing was recorded."""


class StaleReport(ApprovalError):
    """The report changed since the reviewer saw it; nothing was recorded."""


class GatesFailed(ApprovalError):
    """A version whose gates failed can never be approved."""


class NotApproved(ApprovalError):
    """Promotion needs an approval that is still valid for the version's current report."""


class ForgedApproval(ApprovalError):
    """The approval tags on a version were not written by the release store."""


class NotStaged(ApprovalError):
    """Only a version whose staging smoke test passed on its current report can be approved."""


@dataclass(frozen=True)
class Decision:
    """A reviewer's recorded decision on one version."""

    model_name: str
    version: str
    decision: DecisionKind
    reviewer: str
    decided_at: str
    reason: str
    report_sha256: str

    def tags(self) -> dict[str, str]:
        """The signed model-version tags; the decision tag is last, so it is written last."""
        fields = self.mirrored_fields()
        return {**fields, TAG_SIGNATURE: sign(self.signed_fields()), TAG_DECISION: self.decision}

    def mirrored_fields(self) -> dict[str, str]:
        """What the registry's tags show, the decision tag aside."""
        return {
            TAG_REVIEWER: self.reviewer,
            TAG_TIME: self.decided_at,
            TAG_REASON: self.reason,
            TAG_REPORT_SHA: self.report_sha256,
        }

    def signed_fields(self) -> dict[str, str]:
        """Everything the signature covers: the version and the whole decision."""
        return {"model": self.model_name, "version": self.version,
                TAG_DECISION: self.decision, **self.mirrored_fields()}  # fmt: skip

    @classmethod
    def from_row(cls, row: DecisionRow) -> Decision:
        """The decision as the release store holds it."""
        kind: DecisionKind = "approved" if row.decision == "approved" else "rejected"
        return cls(**{**asdict(row), "decision": kind})

    def row(self) -> DecisionRow:
        """The release-store row."""
        return DecisionRow(**asdict(self))


def recorded_decision(model_name: str, version: str) -> Decision | None:
    """The decision the release store holds on a version, or None while it awaits one."""
    row = release_store().decision(model_name, str(version))
    return None if row is None else Decision.from_row(row)


def recorded_decisions(model_name: str) -> dict[str, Decision]:
    """Every decision on a model, by version, from the release store."""
    return {v: Decision.from_row(r) for v, r in release_store().decisions(model_name).items()}


def staging_verdict(model_name: str, version: str) -> AuditEvent | None:
    """The latest staging smoke-test event of a version (staging_passed/_failed), if any."""
    found = None
    for event in read_events(model_name):
        if event.version == str(version) and event.event in STAGING_EVENTS:
            found = event
    return found


def require_staged(model_name: str, version: str, report_sha256: str) -> AuditEvent:
    """The passed staging smoke test of this version and report, else NotStaged saying why."""
    verdict = staging_verdict(model_name, version)
    if verdict is None:
        raise NotStaged(
            f"version {version} cannot be approved: it has not been smoke-tested in staging; "
            "a training run deploys it there (deployment.staging.enabled: true)"
        )
    if verdict.event != "staging_passed":
        raise NotStaged(
            f"version {version} cannot be approved: its staging smoke test failed at "
            f"{verdict.at}: {verdict.detail}"
        )
    if verdict.report_sha256 != report_sha256:
        raise NotStaged(
            f"version {version} cannot be approved: its staging smoke test ran on another "
            "report than the one stored now"
        )
    return verdict


def clean_reason(reason: str) -> str:
    """The stripped reason, or ApprovalError when it is missing or too long."""
    text = (reason or "").strip()
    if len(text) < MIN_REASON_CHARS:
        raise ApprovalError(
            f"a decision needs a written reason (at least {MIN_REASON_CHARS} characters)"
        )
    if len(text) > MAX_REASON_CHARS:
        raise ApprovalError(f"the reason is too long ({len(text)} > {MAX_REASON_CHARS} characters)")
    return text


def require_version(client: MlflowClient, model_name: str, version: str) -> VersionInfo:
    """The version, or a clear error naming the model and the version."""
    info = get_version(client, model_name, str(version).strip())
    if info is None:
        raise ApprovalError(f"model '{model_name}' has no version '{version}'")
    return info


def current_report(client: MlflowClient, model_name: str, version: str) -> EvaluationReport:
    """The stored report of a version, verified against its recorded sha256."""
    from mlcicd.registry.reports import stored_report

    try:
        return stored_report(client, model_name, str(version))
    except PipelineInputError as exc:
        raise ApprovalError(str(exc)) from None


def gate_failure_message(report: EvaluationReport, version: str) -> str:
    """Why a version can never be approved."""
    names = ", ".join(f"{g.gate} ({g.summary})" for g in report.failed_gates)
    return f"version {version} cannot be approved: its gates failed: {names}"


def decide(
    client: MlflowClient,
    model_name: str,
    version: str,
    decision: str,
    reviewer: str,
    reason: str,
    seen_report_sha256: str,
) -> Decision:
    """Record one approval or rejection, exactly once, or raise ApprovalError and record nothing.

    `seen_report_sha256` is the sha256 of the report the reviewer was shown: if the stored report
    differs now, the decision was taken on other numbers and is refused.
    """
    if decision not in DECISIONS:
        raise ApprovalError(f"unknown decision '{decision}'; choose one of {', '.join(DECISIONS)}")
    reviewer = (reviewer or "").strip()
    if not reviewer:
        raise ApprovalError("only an authenticated reviewer can decide")
    text = clean_reason(reason)
    info = require_version(client, model_name, version)
    earlier = recorded_decision(model_name, info.version)
    if earlier is not None:
        raise _already_decided(earlier)
    if not set(info.aliases) & set(CANDIDATE_ALIASES):
        raise ApprovalError(
            f"version {info.version} does not await a decision: it holds neither the "
            f"'staging' nor the 'challenger' alias (aliases: {', '.join(info.aliases) or '-'})"
        )
    report = current_report(client, model_name, info.version)
    current = report.sha256()
    if seen_report_sha256 != current:
        raise StaleReport(
            f"the report of version {info.version} changed since it was shown "
            f"(shown {seen_report_sha256[:12] or '-'}, now {current[:12]}); "
            "reload it and review again"
        )
    if decision == "approved":
        if not report.passed:
            raise GatesFailed(gate_failure_message(report, info.version))
        require_staged(model_name, info.version, current)
    record = Decision(
        model_name=model_name,
        version=info.version,
        decision=decision,
        reviewer=reviewer,
        decided_at=now_utc(),
        reason=text,
        report_sha256=current,
    )
    event = AuditEvent(
        event=record.decision,
        model_name=model_name,
        version=info.version,
        actor=reviewer,
        at=record.decided_at,
        reason=text,
        report_sha256=current,
    )
    try:
        release_store().record_decision(record.row(), event)
    except DecisionExists as exc:  # another reviewer committed first
        raise _already_decided(Decision.from_row(exc.existing)) from None
    for key, value in record.tags().items():
        client.set_model_version_tag(model_name, info.version, key, value)
    return record


def _already_decided(earlier: Decision) -> AlreadyDecided:
    return AlreadyDecided(
        f"version {earlier.version} was already {earlier.decision} by {earlier.reviewer} "
        f"at {earlier.decided_at}: {earlier.reason}"
    )


def require_approved(
    client: MlflowClient, model_name: str, version: str, *, staged: bool = True
) -> Decision:
    """The version's approval in the release store, valid for its current report and staging.

    The registry's tags are not consulted: anyone who can write tags could write an approval.
    `staged=False` (a rollback) skips the staging verdict: a version approved before the store
    recorded staging verdicts can still be served again.
    """
    info = require_version(client, model_name, version)
    decision = recorded_decision(model_name, info.version)
    if decision is None:
        forged = " (its approval_* tags were not written by a reviewer and are ignored)"
        raise NotApproved(
            f"version {info.version} of '{model_name}' has not been approved"
            f"{forged if TAG_DECISION in info.tags else ''}; a reviewer must approve it in the "
            "review console first (streamlit run console/app.py)"
        )
    check_mirror(info, decision)
    if decision.decision != "approved":
        raise NotApproved(
            f"version {info.version} of '{model_name}' was rejected by {decision.reviewer} at "
            f"{decision.decided_at}: {decision.reason}"
        )
    report = current_report(client, model_name, info.version)
    if not report.passed:
        raise GatesFailed(gate_failure_message(report, info.version))
    if report.sha256() != decision.report_sha256:
        raise NotApproved(
            f"the report of version {info.version} changed after it was approved; "
            "the approval no longer applies"
        )
    try:
        if staged:
            require_staged(model_name, info.version, decision.report_sha256)
    except NotStaged as exc:
        raise NotApproved(str(exc).replace("cannot be approved", "cannot be promoted")) from None
    return decision


def check_mirror(info: VersionInfo, decision: Decision) -> None:
    """ForgedApproval when the version's approval tags were written or edited by hand.

    Tags that are missing are fine (the store is the authority; the mirror is for people).
    """
    if TAG_DECISION not in info.tags and TAG_SIGNATURE not in info.tags:
        return
    mirrored = Decision(
        model_name=info.name,
        version=info.version,
        decision="approved" if info.tags.get(TAG_DECISION) == "approved" else "rejected",
        reviewer=info.tags.get(TAG_REVIEWER, ""),
        decided_at=info.tags.get(TAG_TIME, ""),
        reason=info.tags.get(TAG_REASON, ""),
        report_sha256=info.tags.get(TAG_REPORT_SHA, ""),
    )
    genuine = info.tags.get(TAG_DECISION) in DECISIONS and verify(
        mirrored.signed_fields(), info.tags.get(TAG_SIGNATURE, "")
    )
    if not genuine or mirrored != decision:
        raise ForgedApproval(
            f"the approval tags on version {info.version} of '{info.name}' do not carry the "
            "release store's signature of its recorded decision: they were written or changed "
            f"by hand (recorded: {decision.decision} by {decision.reviewer} at "
            f"{decision.decided_at}). Nothing was deployed; find out who wrote them, then "
            "delete the approval_* tags"
        )


@dataclass(frozen=True)
class Candidate:
    """A version awaiting a decision, with its report's headline numbers."""

    info: VersionInfo
    report: EvaluationReport
    report_sha256: str


def pending_candidates(client: MlflowClient, model_name: str) -> list[Candidate]:
    """Versions holding `staging` or `challenger` that could be approved now.

    Newest first: gates passed, staging smoke test passed on the current report, no decision
    yet. A version whose stored report cannot be read is left out.
    """
    from mlcicd.registry.versions import list_versions

    decided = recorded_decisions(model_name)
    found = []
    for info in list_versions(client, model_name):
        if not set(info.aliases) & set(CANDIDATE_ALIASES):
            continue
        if info.version in decided or REPORT_SHA_TAG not in info.tags:
            continue
        try:
            report = current_report(client, model_name, info.version)
            require_staged(model_name, info.version, report.sha256())
        except ApprovalError:
            continue
        if report.passed:
            found.append(Candidate(info, report, report.sha256()))
    return found
