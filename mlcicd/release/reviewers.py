"""Who may decide: the local reviewers file with hashed passwords.

The reviewers file (YAML) maps a reviewer id to a scrypt hash with a per-user salt; it lives
under ML_CICD_HOME (never in the repository) and is written by `python run.py reviewers add NAME`.
The console signs reviewers in against it (mlcicd/release/reviewers.py) unless OIDC is configured.
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

import yaml

from mlcicd.config import RunConfig
from mlcicd.errors import MlCicdError
from mlcicd.paths import ml_cicd_home

SCHEME = "scrypt"
# RFC 7914 interactive parameters: about 50 ms and 16 MiB per check, slow enough for guessing.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD_CHARS = 10
REVIEWER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
ENV_REVIEWERS_FILE = "ML_CICD_REVIEWERS_FILE"


class AuthError(MlCicdError, ValueError):
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
    return (ml_cicd_home() / raw).resolve()


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
    tmp.replace(path)


def check_credentials(path: Path, identity: str, password: str) -> Reviewer | None:
    """The reviewer when the password matches; a dummy hash keeps unknown ids equally slow."""
    entry = load_reviewers(path).get(identity.strip())
    stored = entry["password"] if entry else hash_password("unused", salt=b"0" * 16)
    if verify_password(password, stored) and entry is not None:
        return Reviewer(identity.strip(), entry["name"], "password")
    return None
