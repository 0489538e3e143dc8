"""Small rendering helpers shared by the pages (formatting comes from the report renderers)."""

from __future__ import annotations

import streamlit as st

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
