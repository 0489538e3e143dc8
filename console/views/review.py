"""Version review: the stored evaluation report and everything else a reviewer needs to decide."""

from __future__ import annotations

import pandas as pd
import streamlit as st
import streamlit.components.v1 as components

from console import context as data
from console.views.common import headline_metrics, page_links
from console.views.rollouts import shadow_report_view
from mlcicd.release.approvals import ApprovalError
from mlcicd.reporting.formatting import (
    validation_batch_cells,
    validation_batches,
    validation_failures,
    verdict_text,
)
from mlcicd.reporting.html import render_html

ctx = data.context()
name = ctx.config.model_name
st.title("Version review")
version = data.selected_version()
if not version:
    known = [v.version for v in data.versions(name)]
    if not known:
        st.info(f"'{name}' has no registered version yet.")
        st.stop()
    choice = st.selectbox("Version", known, index=None, placeholder="Choose a version")
    if choice is None:
        st.stop()
    st.query_params["version"] = choice
    st.rerun()
try:
    review = data.version_review(name, version)
except ApprovalError as exc:
    st.error(str(exc))
    st.stop()
info, report = review.info, review.report
st.header(f"{name} version {info.version}")
aliases = ", ".join(f"`{a}`" for a in info.aliases) or "none"
st.markdown(f"Aliases: {aliases} · staging smoke test: **{review.staging_smoke}**")
if review.decision is not None:
    d = review.decision
    box = st.success if d.decision == "approved" else st.warning
    box(f"**{d.decision.capitalize()}** by `{d.reviewer}` at {d.decided_at}: {d.reason}")
if report is None:
    st.error(f"The evaluation report cannot be shown: {review.report_error}")
    st.stop()
# what this reviewer saw; the decision page submits it, so a changed report is refused
st.session_state.setdefault("reviewed", {})[info.version] = review.report_sha256
(st.success if report.passed else st.error)(f"Verdict: {verdict_text(report)}")
st.caption(f"Report sha256 `{review.report_sha256}`")
headline_metrics(report, f"version {info.version}")
page_links(info.version, review=False)

st.subheader("Gates")
st.dataframe(
    pd.DataFrame(
        [{"gate": g.gate, "status": g.status, "summary": g.summary} for g in report.gates]
    ),
    hide_index=True,
)

st.subheader("Evaluation report")
st.caption(
    "The same report object as the PR comment and the HTML artifact: metrics and deltas versus "
    "the champion, each gate's checks and margins, ROC/PR curves, confusion matrix, fairness per "
    "group, latency percentiles and golden-row changes."
)
components.html(render_html(report), height=2200, scrolling=True)

st.subheader("Model card")
if review.model_card:
    with st.expander("Intended use, data, metrics, fairness, limitations", expanded=False):
        st.markdown(review.model_card)
else:
    st.caption("No model card was registered with this version (registered before model cards).")

left, right = st.columns(2)
with left:
    st.subheader("Data validation")
    summary = report.data_validation
    success = summary.get("success")
    outcome = "passed" if success is True else "failed" if success is False else "unknown"
    st.markdown(f"Suite `{summary.get('suite', '?')}`: **{outcome}**")
    rows = [validation_batch_cells(b) for b in validation_batches(summary)]
    if rows:
        st.dataframe(
            pd.DataFrame(rows, columns=["batch", "expectations", "successful", "rows"]),
            hide_index=True,
        )
    for failure in validation_failures(summary):
        st.markdown(f"- {failure}")
    if review.data_docs:
        st.markdown(f"Data Docs: [{review.data_docs.rsplit('/', 1)[-1]}]({review.data_docs})")
        st.code(review.data_docs, language=None)
    else:
        st.caption("No Data Docs were logged for this version.")
with right:
    st.subheader("Lineage")
    st.dataframe(
        pd.DataFrame(sorted(review.lineage.items()), columns=["tag", "value"]), hide_index=True
    )
    st.caption(f"MLflow tracking: `{ctx.tracking_uri}`")

st.subheader("Staging smoke test")
if review.staging_smoke_results:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "url": r.get("url"),
                    "passed": r.get("passed"),
                    "requests": r.get("requests"),
                    "p95 ms": r.get("p95_ms"),
                    "max |Δp|": r.get("max_probability_difference"),
                    "label mismatches": r.get("label_mismatches"),
                    "edge cases (HTTP)": str(r.get("edge_cases")),
                    "failures": "; ".join(r.get("failures") or []),
                }
                for r in review.staging_smoke_results
            ]
        ),
        hide_index=True,
    )
else:
    st.caption(f"Staging smoke test: {review.staging_smoke}.")
st.subheader("Shadow deployment")
if review.shadow:
    shadow_report_view(review.shadow)
else:
    st.caption("No shadow deployment has been run for this version.")
