"""Decision: approve (and start the production rollout) or reject, with a written reason."""

from __future__ import annotations

import streamlit as st

from console import context as data
from console.views.common import headline_metrics, reviewer
from console.views.progress import job_progress
from mlcicd.release.approvals import AlreadyDecided, ApprovalError, decide
from mlcicd.reporting.formatting import verdict_text
from mlcicd.runner.jobs import latest_job, start_release

ctx = data.context()
name = ctx.config.model_name
st.title("Decision")
version = data.selected_version()
if not version:
    st.info("Choose a version on the Pending approvals page first.")
    st.page_link("views/pending.py", label="Pending approvals", icon=":material/pending_actions:")
    st.stop()
try:
    review = data.version_review(name, version)
except ApprovalError as exc:
    st.error(str(exc))
    st.stop()
report = review.report
if flash := st.session_state.pop("flash", None):
    st.warning(flash)
st.header(f"{name} version {review.info.version}")
if report is None:
    st.error(f"This version cannot be decided: {review.report_error}")
    st.stop()
(st.success if report.passed else st.error)(f"Verdict: {verdict_text(report)}")
headline_metrics(report, f"version {version}")

job = latest_job(review.info.version, "promote")
if review.decision is not None:
    d = review.decision
    st.subheader("Recorded decision")
    st.markdown(
        f"**{d.decision.upper()}** by `{d.reviewer}` at {d.decided_at}  \n"
        f"Reason: {d.reason}  \nReport sha256: `{d.report_sha256}`"
    )
    if job is not None:
        st.subheader("Production rollout")
        job_progress(job.job.id)
    st.stop()

who = reviewer()
if who is None:
    st.warning("Sign in as a reviewer (sidebar) to approve or reject this version.")
    st.stop()
seen = st.session_state.get("reviewed", {}).get(review.info.version)
if seen is None:
    st.info(f"Read the full review of version {version} before deciding.")
    st.page_link(
        "views/review.py", label=f"Review version {version}", icon=":material/analytics:",
        query_params={"version": version},
    )  # fmt: skip
    st.stop()
st.caption(f"You reviewed the report with sha256 `{seen}`; your decision records it.")
staged = review.staging_smoke == "passed"
if not report.passed:
    st.error("Its gates failed: this version can only be rejected.")
elif not staged:
    why = "failed" if review.staging_smoke == "failed" else "never ran"
    st.error(f"Its staging smoke test {why}: this version can only be rejected.")
with st.form("decision", clear_on_submit=False):
    reason = st.text_area("Reason (required; recorded with your name and the time)", key="reason")
    left, right = st.columns(2)
    approve = left.form_submit_button(
        "Approve and promote to production",
        type="primary",
        icon=":material/rocket_launch:",
        disabled=not (report.passed and staged),
    )
    reject = right.form_submit_button("Reject", icon=":material/block:")
if approve or reject:
    record = None
    try:
        record = decide(
            data.client(),
            name,
            review.info.version,
            "approved" if approve else "rejected",
            who.identity,
            reason,
            seen,
        )
        if record.decision == "approved":  # no st.* call between the two: a rerun cannot split them
            start_release(ctx.config_ref, ctx.stack_arg, "promote", record.version, who.identity)
    except AlreadyDecided as exc:
        # someone (or a double click) was first: show what was recorded, and say so
        data.refresh()
        st.session_state["flash"] = str(exc)
        st.rerun()
    except ApprovalError as exc:
        data.refresh()
        st.error(str(exc))
    except Exception as exc:
        data.refresh()
        if record is None:
            raise
        st.error(
            f"The decision was recorded, but the rollout did not start ({exc}); start it with "
            f"`python run.py promote --version {version}`."
        )
    else:
        data.refresh()
        st.rerun()
