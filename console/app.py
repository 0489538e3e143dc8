"""Review console: `streamlit run console/app.py` (see README, "Review console").

Pages: pending approvals, version review, decision, deployments and history. Only signed-in
reviewers see anything that changes state; every read and write goes through the library
functions the pipelines and run.py use.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # `streamlit run` puts console/, not the repo, on the path
    sys.path.insert(0, str(REPO_ROOT))

import streamlit as st  # noqa: E402

from console import auth  # noqa: E402
from console.context import context  # noqa: E402

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
]
page = st.navigation(
    [
        st.Page(VIEWS / f"{slug}.py", title=title, icon=icon, url_path=slug, default=i == 0)
        for i, (slug, title, icon) in enumerate(PAGES)
    ]
)
page.run()
