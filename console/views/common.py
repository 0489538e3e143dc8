"""Small rendering helpers shared by the pages (formatting comes from the report renderers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import streamlit as st

from mlcicd.monitoring.alerter import ALERT_EVENT
from mlcicd.release.audit import AuditEvent
from mlcicd.release.reviewers import Reviewer
from mlcicd.reporting.formatting import (
    format_delta,
    format_metric,
    lower_is_better,
    metric_label,
)
from mlcicd.reporting.model import EvaluationReport


def reviewer() -> Reviewer | None:
    """The signed-in reviewer, as app.py found it on this run."""
    found = st.session_state.get("reviewer_now")
    return found if isinstance(found, Reviewer) else None


def headline_metrics(report: EvaluationReport, key: str) -> None:
    """One st.metric per golden-set metric, with the delta versus the champion."""
    deltas = report.metric_deltas()
    metrics = sorted(report.challenger.metrics.items())
    columns = st.columns(len(metrics) or 1)
    for column, (name, value) in zip(columns, metrics, strict=False):
        delta = deltas.get(name)
        column.metric(
            metric_label(name),
            format_metric(value),
            delta=None if delta is None else format_delta(delta),
            delta_color="inverse" if lower_is_better(name) else "normal",
            delta_description=None if delta is None else "vs champion",
            help=f"golden-set {name} of {key}",
        )


def page_links(version: str, *, review: bool = True, decision: bool = True) -> None:
    """Links to the review and decision pages of one version."""
    wanted = [review, decision]
    slots = iter(st.columns([1] * sum(wanted) + [4 - sum(wanted)]))
    if review:
        next(slots).page_link(
            "views/review.py", label=f"Review version {version}", icon=":material/analytics:",
            query_params={"version": version},
        )  # fmt: skip
    if decision:
        next(slots).page_link(
            "views/decision.py", label=f"Decide on version {version}", icon=":material/gavel:",
            query_params={"version": version},
        )  # fmt: skip


ALERT_BANNER_HOURS = 24
ALERT_BANNER_SHOWN = 3


def recent_alerts(events: list[AuditEvent], now: datetime) -> list[AuditEvent]:
    """Monitoring alerts of the last ALERT_BANNER_HOURS hours, newest first."""
    since = now - timedelta(hours=ALERT_BANNER_HOURS)
    found = []
    for event in events:
        if event.event != ALERT_EVENT:
            continue
        try:
            at = datetime.fromisoformat(event.at)
        except ValueError:
            continue  # not a timestamp this console wrote: never fatal
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        if at >= since:
            found.append((at, event))
    return [event for _, event in sorted(found, key=lambda pair: pair[0], reverse=True)]


def _alert_line(event: AuditEvent) -> str:
    """One alert: when, where, its first line and first breach, and what it asked for."""
    lines = [line.strip() for line in event.reason.splitlines() if line.strip()]
    text = "; ".join(line.lstrip("- ") for line in lines[:2]) or "monitoring alert"
    where = f" · `{event.environment}`" if event.environment else ""
    action = f" · {event.detail}" if event.detail else ""
    return f"- {event.at}{where}: {text[:300]}{action}"


def alert_banner(events: list[AuditEvent]) -> None:
    """A warning on every page while monitoring alerts of the last day exist, newest first."""
    alerts = recent_alerts(events, datetime.now(UTC))
    if not alerts:
        return
    shown = "\n".join(_alert_line(e) for e in alerts[:ALERT_BANNER_SHOWN])
    more = len(alerts) - ALERT_BANNER_SHOWN
    rest = f"\n\n... and {more} more." if more > 0 else ""
    st.warning(
        f"**{len(alerts)} monitoring alert(s) in the last {ALERT_BANNER_HOURS} h** "
        f"(details on the Monitoring page):\n\n{shown}{rest}",
        icon=":material/notification_important:",
    )
