"""Reviewers file: salted scrypt hashes, constant-time checks, never a plain password on disk."""

from __future__ import annotations

import io
import stat

import pytest
import yaml

from mlcicd.cli import main as run
from mlcicd.release.reviewers import (
    AuthError,
    add_reviewer,
    check_credentials,
    hash_password,
    load_reviewers,
    verify_password,
)


def test_hashes_are_salted_per_user_and_verify(tmp_path) -> None:
    first, second = hash_password("same password"), hash_password("same password")
    assert first != second and first.startswith("scrypt$")
    assert verify_password("same password", first) and verify_password("same password", second)
    assert not verify_password("same passwore", first)
    assert not verify_password("anything", "not-a-hash")
    assert not verify_password("anything", "md5$1$1$1$AAAA$AAAA")


def test_reviewers_file_holds_only_hashes_and_is_private(tmp_path) -> None:
    path = tmp_path / "home" / "reviewers.yaml"
    add_reviewer(path, "alice", "correct horse battery", "Alice A.")
    add_reviewer(path, "bob@example.com", "another long secret")
    text = path.read_text()
    assert "correct horse battery" not in text and "another long secret" not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert set(yaml.safe_load(text)["reviewers"]) == {"alice", "bob@example.com"}
    found = check_credentials(path, "alice", "correct horse battery")
    assert found is not None and (found.identity, found.display_name) == ("alice", "Alice A.")
    assert check_credentials(path, "alice", "wrong password") is None
    assert check_credentials(path, "mallory", "correct horse battery") is None
    add_reviewer(path, "alice", "a brand new password")  # replacing keeps one entry
    assert check_credentials(path, "alice", "correct horse battery") is None
    assert len(load_reviewers(path)) == 2


@pytest.mark.parametrize(
    ("identity", "password", "message"),
    [("", "long enough pw", "reviewer id"), ("a b", "long enough pw", "reviewer id"),
     ("alice", "short", "at least 10")],
)  # fmt: skip
def test_bad_reviewers_are_refused(tmp_path, identity, password, message) -> None:
    path = tmp_path / "reviewers.yaml"
    with pytest.raises(AuthError, match=message):
        add_reviewer(path, identity, password)
    assert not path.exists()


def test_a_malformed_reviewers_file_is_a_clear_error(tmp_path) -> None:
    path = tmp_path / "reviewers.yaml"
    path.write_text("reviewers: [alice]\n")
    with pytest.raises(AuthError, match="must hold a mapping"):
        check_credentials(path, "alice", "whatever")


def test_run_py_reviewers_add_and_list(tmp_path, monkeypatch, capsys) -> None:
    path = tmp_path / "reviewers.yaml"
    monkeypatch.setenv("ML_CICD_REVIEWERS_FILE", str(path))
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert run.main(["reviewers", "add", "carol", "--password-stdin"]) == run.EXIT_OK
    assert f"reviewer 'carol' saved in {path}" in capsys.readouterr().out
    assert check_credentials(path, "carol", "a long enough password") is not None
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert run.main(["reviewers", "add", "dave", "--password-stdin"]) == run.EXIT_ERROR
    assert "at least 10 characters" in capsys.readouterr().err
    assert run.main(["reviewers", "list"]) == run.EXIT_OK
    assert capsys.readouterr().out.split() == ["carol", "carol"]
