"""`run.py approve|reject`: the console's decision from a script, with the same checks."""

from __future__ import annotations

import io
import uuid

import pytest
from mlflow import MlflowClient

from mlcicd.cli import main as run
from mlcicd.cli.common import EXIT_USAGE
from mlcicd.registry.versions import get_version
from mlcicd.release.approvals import DECISIONS, Decision, recorded_decision
from mlcicd.release.audit import read_events
from mlcicd.release.reviewers import ENV_REVIEWERS_FILE, add_reviewer
from mlcicd.release.signing import ENV_RELEASE_TOKEN, issue_release_token
from tests.helpers.registry import register_by_hand

PASSWORD = "a long enough password"


@pytest.fixture
def client(zenml_client, tracking_uri) -> MlflowClient:
    return MlflowClient(tracking_uri=tracking_uri)


@pytest.fixture
def name() -> str:
    return f"cli-decisions-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def config(write_config, name, tmp_path, monkeypatch) -> str:
    reviewers = tmp_path / "reviewers.yaml"
    add_reviewer(reviewers, "carol", PASSWORD)
    monkeypatch.setenv(ENV_REVIEWERS_FILE, str(reviewers))
    return str(write_config({"model_name": name}))


def _decide(monkeypatch, config: str, verb: str, version: str, password: str = PASSWORD,
            *extra: str) -> int:  # fmt: skip
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    return run.main(["--config", config, verb, "--version", version, "--reason",
                     "numbers look right", "--reviewer", "carol", "--password-stdin", *extra])  # fmt: skip


def _decision(client: MlflowClient, name: str, version: str) -> Decision | None:
    assert get_version(client, name, version) is not None
    return recorded_decision(name, version)


def _decisions(name: str) -> list[str]:
    return [e.event for e in read_events(name) if e.event in DECISIONS]


def test_approve_records_the_decision_once_and_names_the_next_command(
    client, name, config, monkeypatch, capsys
) -> None:
    version, report = register_by_hand(client, name)
    assert _decide(monkeypatch, config, "approve", version) == run.EXIT_OK
    out = capsys.readouterr().out
    assert f"APPROVED: {name} version {version} by carol" in out
    assert f"next: python run.py promote --version {version}" in out
    decision = _decision(client, name, version)
    assert decision is not None and decision.decision == "approved"
    assert decision.reviewer == "carol" and decision.report_sha256 == report.sha256()
    assert _decisions(name) == ["approved"]

    # exactly once: a second decision on the same version is refused, nothing more recorded
    assert _decide(monkeypatch, config, "reject", version) == run.EXIT_ERROR
    assert f"version {version} was already approved by carol" in capsys.readouterr().err
    assert _decisions(name) == ["approved"]


def test_reject_records_a_rejection(client, name, config, monkeypatch, capsys) -> None:
    version, _ = register_by_hand(client, name)
    assert _decide(monkeypatch, config, "reject", version) == run.EXIT_OK
    assert f"REJECTED: {name} version {version} by carol" in capsys.readouterr().out
    decision = _decision(client, name, version)
    assert decision is not None and decision.decision == "rejected"
    assert _decisions(name) == ["rejected"]


@pytest.mark.parametrize(
    ("password", "extra", "message"),
    [
        ("wrong password!!", (), "unknown reviewer or wrong password; nothing was changed"),
        (PASSWORD, ("--report-sha256", "0" * 64), "changed since it was shown"),
    ],
)
def test_a_wrong_password_or_a_stale_report_records_nothing(
    client, name, config, monkeypatch, capsys, password, extra, message
) -> None:
    version, _ = register_by_hand(client, name)
    assert _decide(monkeypatch, config, "approve", version, password, *extra) == run.EXIT_ERROR
    assert message in capsys.readouterr().err
    assert _decision(client, name, version) is None
    assert _decisions(name) == []


def test_a_version_whose_gates_failed_cannot_be_approved_from_the_cli(
    client, name, config, monkeypatch, capsys
) -> None:
    version, _ = register_by_hand(client, name, "evaluation_report_rejected.json")
    assert _decide(monkeypatch, config, "approve", version) == run.EXIT_ERROR
    assert f"version {version} cannot be approved: its gates failed" in capsys.readouterr().err
    assert _decision(client, name, version) is None


def test_a_version_whose_staging_smoke_test_failed_cannot_be_approved_from_the_cli(
    client, name, config, monkeypatch, capsys
) -> None:
    version, _ = register_by_hand(client, name, staging="staging_failed")
    assert _decide(monkeypatch, config, "approve", version) == run.EXIT_ERROR
    err = capsys.readouterr().err
    assert f"version {version} cannot be approved: its staging smoke test failed at" in err
    assert "3 label mismatches" in err
    assert _decision(client, name, version) is None


def test_an_unknown_version_is_named(client, name, config, monkeypatch, capsys) -> None:
    register_by_hand(client, name)
    assert _decide(monkeypatch, config, "approve", "99") == run.EXIT_ERROR
    assert f"model '{name}' has no version '99'" in capsys.readouterr().err


def test_traffic_bounds_are_usage_errors(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run.main(["traffic", "production", "--duration", "0"])
    assert exit_info.value.code == EXIT_USAGE
    assert "argument --duration: must be above 0 and at most 3600, got 0" in capsys.readouterr().err


def test_promote_and_rollback_need_a_signed_in_reviewer(
    client, name, config, monkeypatch, capsys
) -> None:
    version, _ = register_by_hand(client, name)
    promote = ["--config", config, "promote", "--version", version]
    assert run.main(promote) == run.EXIT_ERROR
    assert "promote changes what serves in production, so it needs a signed-in reviewer" in (
        capsys.readouterr().err
    )
    with pytest.raises(SystemExit):  # the free-text --actor is gone
        run.main([*promote, "--actor", "anyone"])
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO("wrong password!!\n"))
    assert run.main([*promote, "--reviewer", "carol", "--password-stdin"]) == run.EXIT_ERROR
    assert "unknown reviewer or wrong password; nothing was changed" in capsys.readouterr().err
    assert read_events(name)[-1].event == "staging_passed"  # nothing was recorded


def test_the_consoles_release_token_acts_as_its_reviewer_for_that_action_only(
    client, name, config, monkeypatch, capsys
) -> None:
    version, _ = register_by_hand(client, name)
    monkeypatch.setenv(ENV_RELEASE_TOKEN, issue_release_token("carol", "rollback", version))
    promote = ["--config", config, "promote", "--version", version]
    assert run.main(promote) == run.EXIT_ERROR
    err = capsys.readouterr().err
    assert f"issued for rollback of version {version}, not for promote" in err
    monkeypatch.setenv(ENV_RELEASE_TOKEN, issue_release_token("carol", "promote", version))
    assert run.main(promote) == run.EXIT_ERROR  # signed in; refused for the next reason
    captured = capsys.readouterr()
    assert f"promote {name} version {version} by carol" in captured.out
    assert f"version {version} of '{name}' has not been approved" in captured.err


def test_stopping_or_restarting_production_needs_a_signed_in_reviewer(
    config, monkeypatch, capsys
) -> None:
    for verb in ("stop", "restart"):
        assert run.main(["--config", config, verb, "production"]) == run.EXIT_ERROR
        assert f"{verb} changes what serves in production" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    stop = ["--config", config, "stop", "production", "--reviewer", "carol", "--password-stdin"]
    assert run.main(stop) == run.EXIT_OK
    assert "production: was not running" in capsys.readouterr().out  # nothing to record
    assert run.main(["--config", config, "stop", "staging"]) == run.EXIT_OK  # staging: no sign-in
