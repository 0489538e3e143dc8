"""Live progress of a release job: polls its output every two seconds until it ends."""

from __future__ import annotations

import streamlit as st

from console import context as data
from mlcicd.runner.jobs import job_status

_ICONS = {
    "running": ":material/hourglass_top:",
    "succeeded": ":material/check_circle:",
    "rejected by the smoke test": ":material/block:",
    "failed": ":material/error:",
}
_INTERRUPTED = ":material/report:"


@st.fragment(run_every=2)
def job_progress(job_id: str) -> None:
    """State, command and the last output lines of one job; a full refresh once it ends."""
    status = job_status(job_id)
    if status is None:
        st.error(f"unknown release job {job_id}")
        return
    job = status.job
    verb = "Promotion" if job.action == "promote" else "Rollback"
    with st.container(border=True, key=f"job-{job_id}"):
        st.markdown(
            f"**{verb} of version {job.version}** started by `{job.actor}` at {job.started_at}: "
            f"{_ICONS.get(status.state, _INTERRUPTED)} **{status.state}**"
            + (f" (exit code {status.exit_code})" if status.exit_code is not None else "")
        )
        st.code(status.output or "(starting ...)", language=None)
        st.caption("Command: " + " ".join(job.command[1:]))
    done_key = f"job-done-{job_id}"
    if status.finished and not st.session_state.get(done_key):
        st.session_state[done_key] = True
        data.refresh()
        st.rerun()
