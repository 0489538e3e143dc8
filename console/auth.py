"""Console sign-in: OIDC via Streamlit's `st.login`, or the local reviewers file.

When `[auth]` is configured in .streamlit/secrets.toml the console uses OIDC and records the
identity provider's e-mail address; otherwise reviewers sign in against the hashed-password file
of `mlcicd.release.reviewers`. Streamlit is imported only inside the functions that need it.
"""

from __future__ import annotations

from typing import Any

from mlcicd.config import RunConfig
from mlcicd.release.reviewers import AuthError, Reviewer, check_credentials, reviewers_file


def oidc_configured() -> bool:
    """True when .streamlit/secrets.toml has an [auth] section for st.login."""
    import streamlit as st

    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all: Streamlit raises on access
        return False


def current_reviewer(config: RunConfig) -> Reviewer | None:
    """The logged-in reviewer of this browser session, or None."""
    import streamlit as st

    if oidc_configured():
        user: Any = st.user
        if not user.get("is_logged_in"):
            return None
        email = str(user.get("email") or user.get("sub") or "")
        allowed = config.console.oidc_reviewers
        if not email or (allowed and email not in allowed):
            return None
        return Reviewer(email, str(user.get("name") or email), "oidc")
    found = st.session_state.get("reviewer")
    return found if isinstance(found, Reviewer) else None


def login_panel(config: RunConfig) -> Reviewer | None:
    """Sidebar login/logout; returns the reviewer once authenticated."""
    import streamlit as st

    reviewer = current_reviewer(config)
    box = st.sidebar
    if reviewer is not None:
        box.success(f"Signed in as **{reviewer.display_name}** (`{reviewer.identity}`)")
        if box.button("Sign out", key="sign_out"):
            if reviewer.method == "oidc":
                st.logout()
            st.session_state.pop("reviewer", None)
            st.rerun()
        return reviewer
    if oidc_configured():
        if st.user.get("is_logged_in"):
            box.error("Your account is not on the reviewers list (console.oidc_reviewers).")
        if box.button("Sign in with your identity provider", key="oidc_login"):
            st.login()
        return None
    path = reviewers_file(config)
    with box.form("login", clear_on_submit=True):
        st.markdown("**Reviewer sign-in**")
        identity = st.text_input("Reviewer id", key="login_id")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        try:
            found = check_credentials(path, identity, password)
        except AuthError as exc:
            box.error(str(exc))
            return None
        if found is None:
            box.error("Unknown reviewer or wrong password.")
            return None
        st.session_state["reviewer"] = found
        st.rerun()
    if not path.is_file():
        box.info(f"No reviewers yet. Add one with `python run.py reviewers add NAME` ({path}).")
    return None
