"""Deployments and history: what serves where, rollouts as they run, the audit log, rollback.

Per environment: the serving version and its traffic split, plots of each version's traffic
over time, the rollout's step and verdicts, and for a signed-in reviewer an "Abort rollout"
while one runs (the engine rolls back exactly as on a breach).
"""

from __future__ import annotations

from datetime import UTC, datetime, time

import pandas as pd
import streamlit as st

from console import context as data
from console.views.common import reviewer
from console.views.progress import job_progress
from console.views.rollouts import abort_panel, rollout_summary, traffic_charts
from mlcicd.errors import MlCicdError
from mlcicd.release.approvals import ApprovalError, clean_reason, recorded_decisions
from mlcicd.release.audit import live_version_at
from mlcicd.runner.jobs import list_jobs, running_job, start_release

ctx = data.context()
name = ctx.config.model_name
st.title("Deployments and history")
if st.button("Refresh", icon=":material/refresh:"):
    data.refresh()

versions = data.versions(name)
holders = {alias: v.version for v in versions for alias in v.aliases}
who = reviewer()


@st.fragment(run_every=data.SAMPLE_INTERVAL_S)
def live_rollout(environment: str, serving: bool, shown_state: str | None) -> None:
    """Traffic plots and the rollout record, redrawn every sampling interval.

    When the rollout's state changed since the page was drawn (it ended, or one started), the
    whole page is drawn again, so that the abort form appears or goes with it.
    """
    if serving:
        try:
            traffic_charts(data.metrics_sampler(environment).history())
        except MlCicdError as exc:
            st.warning(f"The traffic of {environment} cannot be measured: {exc}")
    try:
        record = data.rollout(environment)
    except MlCicdError as exc:
        st.error(f"The rollout record of {environment} cannot be read: {exc}")
        return
    if (record or {}).get("state") != shown_state:
        st.rerun()
    if record:
        rollout_summary(record)


columns = st.columns(2)
for column, environment in zip(columns, ("staging", "production"), strict=True):
    alias = "staging" if environment == "staging" else "champion"
    with column.container(border=True, key=f"endpoint-{environment}"):
        st.subheader(environment.capitalize())
        try:
            status = data.endpoint_status(environment)
        except MlCicdError as exc:
            st.error(f"The state of {environment} cannot be read: {exc}")
            continue
        state = status.state
        if state is None:
            st.markdown(f"Nothing deployed. Alias `{alias}`: {holders.get(alias, 'none')}")
        else:
            health = "healthy" if status.healthy else status.detail
            st.metric("Serving version", f"v{state.model_version}", border=False)
            st.markdown(
                f"Health: **{health}**  \nEndpoint: `{state.url}`  \n"
                f"Started: {state.started_at}  \nAlias `{alias}`: v{holders.get(alias, '-')}"
            )
            split = [
                {"version": v.version, "role": v.role, "traffic %": v.traffic_percent,
                 "healthy": v.healthy}
                for v in status.variants
            ]  # fmt: skip
            if split:
                st.dataframe(pd.DataFrame(split), hide_index=True)
        try:
            record = data.rollout(environment)
        except MlCicdError:
            record = None  # the live part below says why
        live_rollout(environment, state is not None, (record or {}).get("state"))
        if record:
            abort_panel(
                name, environment, record, who, ctx.config.rollout.analysis.interval_seconds
            )

st.subheader("Registered versions")
rows = []
decisions = recorded_decisions(name)
for v in versions:
    decision = decisions.get(v.version)
    rows.append(
        {
            "version": v.version,
            "aliases": ", ".join(v.aliases),
            "decision": decision.decision if decision else "",
            "reviewer": decision.reviewer if decision else "",
            "decided at": decision.decided_at if decision else "",
            "reason": decision.reason if decision else "",
        }
    )
if rows:
    st.dataframe(pd.DataFrame(rows), hide_index=True)
else:
    st.caption("No versions yet.")

st.subheader("Release jobs")
jobs = list_jobs(limit=5)
if not jobs:
    st.caption("No promotion or rollback was started from the console yet.")
for job in jobs[:1]:
    job_progress(job.job.id)
if len(jobs) > 1:
    st.dataframe(
        pd.DataFrame(
            [
                {"started": s.job.started_at, "action": s.job.action, "version": s.job.version,
                 "by": s.job.actor, "state": s.state}
                for s in jobs[1:]
            ]
        ),
        hide_index=True,
    )  # fmt: skip

st.subheader("Event history")
events = data.events(name)
if events:
    st.dataframe(
        pd.DataFrame(
            [
                {"time (UTC)": e.at, "event": e.event, "version": e.version,
                 "from": e.from_version, "by": e.actor, "reason": e.reason,
                 "report sha256": e.report_sha256[:12]}
                for e in reversed(events)
            ]
        ),
        hide_index=True,
    )  # fmt: skip
    left, right, answer = st.columns(3)
    day = left.date_input("Which version was live in production on", value="today")
    at_time = right.time_input("at (UTC)", value=time(23, 59))
    moment = datetime.combine(day, at_time, tzinfo=UTC)
    answer.metric("Live in production then", f"v{live_version_at(events, moment) or ' none'}")
else:
    st.caption("No decisions, promotions or rollbacks recorded yet.")

st.subheader("Roll back production")
approved = [
    v.version for v in versions if getattr(decisions.get(v.version), "decision", "") == "approved"
]
targets = [v for v in approved if v != holders.get("champion")]
if who is None:
    st.caption("Sign in as a reviewer to roll back.")
elif not targets:
    st.caption("No other approved version to roll back to.")
else:
    with st.form("rollback"):
        target = st.selectbox("Serve this approved version in production again", targets)
        why = st.text_area("Reason (required)", key="rollback_reason")
        sure = st.checkbox(
            f"I confirm: replace v{holders.get('champion', '-')} in production with this version"
        )
        go = st.form_submit_button("Roll back production", type="primary", icon=":material/undo:")
    if go:
        busy = running_job()
        try:
            text = clean_reason(why)
        except ApprovalError as exc:
            st.error(str(exc))
        else:
            if not sure:
                st.error("Tick the confirmation first.")
            elif busy is not None:
                st.error(f"A {busy.job.action} of version {busy.job.version} is still running.")
            else:
                start_release(
                    ctx.config_ref, ctx.stack_arg, "rollback", str(target), who.identity, text
                )
                data.refresh()
                st.rerun()
