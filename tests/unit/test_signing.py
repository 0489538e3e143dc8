"""Release tokens and tag signatures: only this key's, only for the action they name, not forever."""

from __future__ import annotations

import stat
import time

import pytest

from mlcicd.errors import MlCicdError
from mlcicd.release import signing
from mlcicd.release.signing import (
    ENV_SIGNING_KEY,
    TokenError,
    issue_release_token,
    sign,
    verify,
    verify_release_token,
)


@pytest.fixture(autouse=True)
def own_home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ML_CICD_HOME", str(tmp_path))
    monkeypatch.delenv(ENV_SIGNING_KEY, raising=False)


def test_the_local_key_is_created_once_and_private(tmp_path) -> None:
    first = signing.signing_key()
    assert signing.signing_key() == first and len(first) == 64
    path = tmp_path / "release" / "signing.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_signature_covers_every_field() -> None:
    fields = {"model": "m", "version": "3", "approval_decision": "approved"}
    signature = sign(fields)
    assert verify(fields, signature)
    assert not verify({**fields, "version": "4"}, signature)
    assert not verify(fields, "")
    assert not verify(fields, signature[:-1] + ("0" if signature[-1] != "0" else "1"))


def test_a_release_token_is_valid_for_its_action_and_version_only(monkeypatch) -> None:
    token = issue_release_token("alice", "promote", "3")
    assert verify_release_token(token, "promote", "3") == "alice"
    with pytest.raises(TokenError, match="issued for promote of version 3, not for rollback"):
        verify_release_token(token, "rollback", "3")
    with pytest.raises(TokenError, match="not for promote of version 4"):
        verify_release_token(token, "promote", "4")
    head, body, mac = token.split(".")
    forged_body = body[:-2] + ("AA" if body[-2:] != "AA" else "BB")
    with pytest.raises(TokenError, match="not issued with this release signing key"):
        verify_release_token(f"{head}.{forged_body}.{mac}", "promote", "3")
    with pytest.raises(TokenError, match="is not a release token"):
        verify_release_token("alice", "promote", "3")
    monkeypatch.setattr(time, "time", lambda: 10**10)
    with pytest.raises(TokenError, match="expired"):
        verify_release_token(token, "promote", "3")


def test_a_configured_key_must_be_long_enough(monkeypatch) -> None:
    monkeypatch.setenv(ENV_SIGNING_KEY, "short")
    with pytest.raises(MlCicdError, match=f"{ENV_SIGNING_KEY} is too short .5 characters"):
        signing.signing_key()
    monkeypatch.setenv(ENV_SIGNING_KEY, "x" * 32)
    assert signing.signing_key() == b"x" * 32
