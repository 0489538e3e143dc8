"""HMAC signatures: on the approval tags mirrored into MLflow, and on short-lived release tokens.

Anyone who can write registry tags could write `approval_decision=approved`; the mirror carries
a signature made with a key the registry never sees, so a hand-written or edited tag is detected.
A release token is what the console hands to the `run.py promote|rollback` job it starts: the
reviewer signed in to the console, and the job acts as that reviewer, for that one action, for a
few minutes.

The key is ML_CICD_RELEASE_SIGNING_KEY (one secret shared by the console replicas and the step
pods on gpu-k8s), else `<ML_CICD_HOME>/release/signing.key`: 32 random bytes created on first use,
readable by its owner only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path

from mlcicd.errors import MlCicdError
from mlcicd.paths import home_dir

ENV_SIGNING_KEY = "ML_CICD_RELEASE_SIGNING_KEY"
ENV_RELEASE_TOKEN = "ML_CICD_RELEASE_TOKEN"  # noqa: S105 (the variable's name)
SIGNATURE_VERSION = "v1"
MIN_KEY_CHARS = 32
TOKEN_SECONDS = 600


class TokenError(MlCicdError):
    """A release token is malformed, forged, expired or for another action."""


def signing_key() -> bytes:
    """The configured key, or this machine's key file (created once, mode 0600)."""
    configured = os.environ.get(ENV_SIGNING_KEY, "")
    if configured:
        if len(configured) < MIN_KEY_CHARS:
            raise MlCicdError(
                f"{ENV_SIGNING_KEY} is too short ({len(configured)} characters); use at least "
                f"{MIN_KEY_CHARS} random characters, e.g. `openssl rand -hex 32`"
            )
        return configured.encode()
    path = home_dir("release") / "signing.key"
    if not path.exists():
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            pass  # another process created it first
        else:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_hex(32))
    return Path(path).read_text().strip().encode()


def _mac(payload: bytes) -> str:
    return hmac.new(signing_key(), payload, hashlib.sha256).hexdigest()


def _canonical(fields: dict[str, str]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def sign(fields: dict[str, str]) -> str:
    """`v1:<hex HMAC-SHA256>` over the fields in canonical JSON."""
    return f"{SIGNATURE_VERSION}:{_mac(_canonical(fields))}"


def verify(fields: dict[str, str], signature: str) -> bool:
    """True only when `signature` is this key's signature of exactly these fields."""
    return hmac.compare_digest(sign(fields), signature or "")


def issue_release_token(identity: str, action: str, version: str) -> str:
    """A token that lets a job act as `identity` for one action on one version, for 10 minutes."""
    claims = {"sub": identity, "act": action, "ver": str(version),
              "exp": int(time.time()) + TOKEN_SECONDS}  # fmt: skip
    body = base64.urlsafe_b64encode(_canonical({k: str(v) for k, v in claims.items()})).decode()
    return f"{SIGNATURE_VERSION}.{body}.{_mac(body.encode())}"


def verify_release_token(token: str, action: str, version: str) -> str:
    """The identity a token was issued to; TokenError unless it is valid for this action."""
    parts = (token or "").strip().split(".")
    if len(parts) != 3 or parts[0] != SIGNATURE_VERSION:
        raise TokenError(f"{ENV_RELEASE_TOKEN} is not a release token")
    _, body, mac = parts
    if not hmac.compare_digest(_mac(body.encode()), mac):
        raise TokenError(f"{ENV_RELEASE_TOKEN} was not issued with this release signing key")
    try:
        claims = json.loads(base64.urlsafe_b64decode(body.encode()))
        expires = int(claims["exp"])
    except (ValueError, KeyError, TypeError):
        raise TokenError(f"{ENV_RELEASE_TOKEN} is not a release token") from None
    if expires < time.time():
        raise TokenError(f"{ENV_RELEASE_TOKEN} expired; start the action again from the console")
    if (claims.get("act"), claims.get("ver")) != (action, str(version)):
        raise TokenError(
            f"{ENV_RELEASE_TOKEN} was issued for {claims.get('act')} of version "
            f"{claims.get('ver')}, not for {action} of version {version}"
        )
    return str(claims["sub"])
