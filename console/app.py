"""Review console: `streamlit run console/app.py` (see README, "Review console").

Pages: pending approvals, version review, decision, deployments and history, monitoring; a
banner on every page while monitoring alerts of the last day exist. Only signed-in
reviewers see anything that changes state; every read and write goes through the library
functions the pipelines and run.py use.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from console import auth  # the project is installed (editable), so no sys.path edits
from console.context import context, events
from console.views.common import alert_banner

VIEWS = Path(__file__).resolve().parent / "views"

st.set_page_config(
    page_title="ML CI/CD review console", page_icon=":material/fact_check:", layout="wide"
)
ctx = context()
st.session_state["reviewer_now"] = auth.login_panel(ctx.config)
st.sidebar.caption(
    f"Model **{ctx.config.model_name}** · environment `{ctx.config.environment}` · "
    f"stack `{ctx.stack}`"
)
PAGES = [
    ("pending", "Pending approvals", ":material/pending_actions:"),
    ("review", "Version review", ":material/analytics:"),
    ("decision", "Decision", ":material/gavel:"),
    ("deployments", "Deployments and history", ":material/dns:"),
    ("monitoring", "Monitoring", ":material/monitoring:"),
]
page = st.navigation(
    [
        st.Page(VIEWS / f"{slug}.py", title=title, icon=icon, url_path=slug, default=i == 0)
        for i, (slug, title, icon) in enumerate(PAGES)
    ]
)
alert_banner(events(ctx.config.model_name))
page.run()
