"""Who may decide: OIDC via Streamlit's `st.login`, or a local reviewers file with hashed passwords.

The reviewers file (YAML) maps a reviewer id to a scrypt hash with a per-user salt; it lives
under ML_CICD_HOME (never in the repository) and is written by `python run.py reviewers add NAME`.
When `[auth]` is configured in .streamlit/secrets.toml the console uses OIDC instead and records
the identity provider's e-mail address. Streamlit is imported only inside the functions that need
it, so the command line stays fast.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from configs.config import REPO_ROOT, RunConfig

SCHEME = "scrypt"
# RFC 7914 interactive parameters: about 50 ms and 16 MiB per check, slow enough for guessing.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD_CHARS = 10
REVIEWER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
ENV_REVIEWERS_FILE = "ML_CICD_REVIEWERS_FILE"


class AuthError(ValueError):
    """A reviewer cannot be added or the reviewers file cannot be used."""


@dataclass(frozen=True)
class Reviewer:
    """An authenticated person; `identity` is what decisions record."""

    identity: str
    display_name: str
    method: str  # "password" or "oidc"


def hash_password(password: str, salt: bytes | None = None) -> str:
    """`scrypt$N$r$p$salt$hash`, base64; a fresh random salt per user."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    salt_text, digest_text = base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    return f"{SCHEME}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt_text}${digest_text}"


def verify_password(password: str, encoded: str) -> bool:
    """Constant-time comparison against a stored hash; malformed hashes never match."""
    try:
        scheme, n, r, p, salt_b64, digest_b64 = encoded.split("$")
        if scheme != SCHEME:
            return False
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
        actual = hashlib.scrypt(
            password.encode(), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def reviewers_file(config: RunConfig) -> Path:
    """ML_CICD_REVIEWERS_FILE, else console.reviewers_file (relative to ML_CICD_HOME)."""
    override = os.environ.get(ENV_REVIEWERS_FILE)
    raw = Path(override or config.console.reviewers_file).expanduser()
    if raw.is_absolute():
        return raw
    home = Path(os.environ.get("ML_CICD_HOME") or REPO_ROOT / ".local")
    return (home / raw).resolve()


def load_reviewers(path: Path) -> dict[str, dict[str, str]]:
    """Reviewer id -> {"password": hash, "name": display name}; empty when the file is absent."""
    if not path.is_file():
        return {}
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise AuthError(f"cannot read the reviewers file {path}: {exc}") from None
    entries = raw.get("reviewers", {}) if isinstance(raw, dict) else None
    if not isinstance(entries, dict):
        raise AuthError(f"{path} must hold a mapping 'reviewers: {{id: {{password: ...}}}}'")
    return {
        str(k): {"password": str(v.get("password", "")), "name": str(v.get("name") or k)}
        for k, v in entries.items()
        if isinstance(v, dict)
    }


def add_reviewer(path: Path, identity: str, password: str, display_name: str = "") -> None:
    """Add or replace a reviewer; the file is written atomically, readable by its owner only."""
    if not REVIEWER_ID.match(identity):
        raise AuthError(
            f"reviewer id '{identity}' must be 1-64 letters, digits or . _ @ - (starting with a "
            "letter or digit)"
        )
    if len(password) < MIN_PASSWORD_CHARS:
        raise AuthError(f"the password needs at least {MIN_PASSWORD_CHARS} characters")
    entries = load_reviewers(path)
    entries[identity] = {"password": hash_password(password), "name": display_name or identity}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        yaml.safe_dump({"reviewers": entries}, handle, sort_keys=True)
    os.replace(tmp, path)


def check_credentials(path: Path, identity: str, password: str) -> Reviewer | None:
    """The reviewer when the password matches; a dummy hash keeps unknown ids equally slow."""
    entry = load_reviewers(path).get(identity.strip())
    stored = entry["password"] if entry else hash_password("unused", salt=b"0" * 16)
    if verify_password(password, stored) and entry is not None:
        return Reviewer(identity.strip(), entry["name"], "password")
    return None


# --- Streamlit side ----------------------------------------------------------------------------


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
