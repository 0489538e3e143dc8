"""Manual approval before production: decision records and their rules, and pending candidates.

A decision (approve or reject) is stored twice: as tags on the MLflow model version, where the
promotion reads it, and as a line in the append-only audit log (`mlcicd.release.audit`), which
also records every promotion and rollback, so "which version was live at time T" has an answer.
Decisions are exactly-once: they are taken under an exclusive file lock (`mlcicd.release.locks`)
and the version's decision tag is re-read inside it, so two reviewers (or a double click)
produce one decision. run.py, the promotion pipeline and the console all call these functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from mlcicd.errors import PipelineInputError
from mlcicd.registry.versions import VersionInfo, get_version
from mlcicd.release.audit import AuditEvent, append_event, now_utc
from mlcicd.release.locks import exclusive

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
MAX_REASON_CHARS = 2000
MIN_REASON_CHARS = 3


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
        """The model-version tags; the decision tag is last, so it is written last."""
        return {
            TAG_REVIEWER: self.reviewer,
            TAG_TIME: self.decided_at,
            TAG_REASON: self.reason,
            TAG_REPORT_SHA: self.report_sha256,
            TAG_DECISION: self.decision,
        }

    @classmethod
    def from_version(cls, info: VersionInfo) -> Decision | None:
        """The decision recorded on a version, or None when it awaits one."""
        kind = info.tags.get(TAG_DECISION)
        if kind not in DECISIONS:
            return None
        return cls(
            model_name=info.name,
            version=info.version,
            decision=kind,
            reviewer=info.tags.get(TAG_REVIEWER, ""),
            decided_at=info.tags.get(TAG_TIME, ""),
            reason=info.tags.get(TAG_REASON, ""),
            report_sha256=info.tags.get(TAG_REPORT_SHA, ""),
        )


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
    with exclusive(f"decisions-{model_name}"):
        info = require_version(client, model_name, version)
        earlier = Decision.from_version(info)
        if earlier is not None:
            raise AlreadyDecided(
                f"version {info.version} was already {earlier.decision} by {earlier.reviewer} "
                f"at {earlier.decided_at}: {earlier.reason}"
            )
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
        if decision == "approved" and not report.passed:
            raise GatesFailed(gate_failure_message(report, info.version))
        record = Decision(
            model_name=model_name,
            version=info.version,
            decision=decision,
            reviewer=reviewer,
            decided_at=now_utc(),
            reason=text,
            report_sha256=current,
        )
        for key, value in record.tags().items():
            client.set_model_version_tag(model_name, info.version, key, value)
        append_event(
            AuditEvent(
                event=record.decision,
                model_name=model_name,
                version=info.version,
                actor=reviewer,
                at=record.decided_at,
                reason=text,
                report_sha256=current,
            )
        )
    return record


def require_approved(client: MlflowClient, model_name: str, version: str) -> Decision:
    """The version's approval, still valid for its current report; else NotApproved/GatesFailed."""
    info = require_version(client, model_name, version)
    decision = Decision.from_version(info)
    if decision is None:
        raise NotApproved(
            f"version {info.version} of '{model_name}' has not been approved; a reviewer must "
            "approve it in the review console first (streamlit run console/app.py)"
        )
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
    return decision


@dataclass(frozen=True)
class Candidate:
    """A version awaiting a decision, with its report's headline numbers."""

    info: VersionInfo
    report: EvaluationReport
    report_sha256: str


def pending_candidates(client: MlflowClient, model_name: str) -> list[Candidate]:
    """Versions holding `staging` or `challenger` whose gates passed and that await a decision.

    Newest first. A version whose stored report cannot be read or fails its gates is left out.
    """
    from mlcicd.registry.versions import list_versions

    found = []
    for info in list_versions(client, model_name):
        if not set(info.aliases) & set(CANDIDATE_ALIASES):
            continue
        if Decision.from_version(info) is not None or REPORT_SHA_TAG not in info.tags:
            continue
        try:
            report = current_report(client, model_name, info.version)
        except ApprovalError:
            continue
        if report.passed:
            found.append(Candidate(info, report, report.sha256()))
    return found
