"""Pending approvals: `staging`/`challenger` versions that passed every gate and staging."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from console import context as data
from console.views.common import headline_metrics, page_links
from mlcicd.reporting.formatting import champion_label, verdict_text

ctx = data.context()
name = ctx.config.model_name
st.title("Pending approvals")
st.caption(
    f"Versions of **{name}** that passed their gates and their staging smoke test and hold "
    "`staging` or `challenger`, awaiting a reviewer's decision before production."
)
if st.button("Refresh", icon=":material/refresh:"):
    data.refresh()
candidates = data.pending(name)
if not candidates:
    st.info("No version awaits a decision.")
for candidate in candidates:
    info, report = candidate.info, candidate.report
    created = datetime.fromtimestamp(info.created_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
    review = data.version_review(name, info.version)
    with st.container(border=True, key=f"pending-{info.version}"):
        st.subheader(f"Version {info.version}")
        st.markdown(
            f"{verdict_text(report)} · aliases: {', '.join(f'`{a}`' for a in info.aliases)} · "
            f"registered {created} · staging smoke test: **{review.staging_smoke}** · "
            f"compared with: {champion_label(report)}"
        )
        headline_metrics(report, f"version {info.version}")
        page_links(info.version)
