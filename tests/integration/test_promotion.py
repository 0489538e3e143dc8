"""Promotion and rollback through `run.py`: only approved versions, smoke-tested, audited."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import requests
from mlflow import MlflowClient

from mlcicd.cli import main as run
from mlcicd.release.approvals import decide
from mlcicd.release.audit import live_version_at, read_events
from mlcicd.release.smoke_test import row_payload
from mlcicd.runner.reports import load_report
from tests.helpers.reviewers import as_reviewer, write_reviewers


def _served_version(url: str, payload: dict) -> str:
    answer = requests.post(url, json=payload, timeout=30)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["meta"]["tags"]["model_version"])


def test_promote_refuses_unapproved_deploys_approved_and_rollback_restores(
    zenml_client, tracking_uri, write_config, adult_sample_files, adult_frames, capsys,
    serving_ports, tmp_path, monkeypatch,
) -> None:  # fmt: skip
    write_reviewers(tmp_path, monkeypatch, "ci-bot", "oncall")

    def release(*argv: str, reviewer: str = "ci-bot") -> int:
        return as_reviewer(monkeypatch, reviewer, list(argv))

    name = "promotion-flow"
    overrides = adult_sample_files(rows=2500)
    overrides["model_name"] = name
    # latency is measured again at promotion; on a loaded 2-core runner the champion/challenger
    # ratio is noise, and this test is about the release path, not about latency
    relaxed_latency = {
        "max_slowdown_vs_champion": 100.0,
        "max_p95_ms": 1000,
        "max_p99_ms": 2000,
        "min_batch_rows_per_second": 1.0,
    }
    overrides["gates"] = {"latency": relaxed_latency}
    config = str(write_config(overrides))
    client = MlflowClient(tracking_uri=tracking_uri)
    assert run.main(["--config", config]) == run.EXIT_OK
    capsys.readouterr()

    # unknown and unapproved versions are refused before anything is deployed
    assert run.main(["--config", config, "promote", "--version", "1"]) == run.EXIT_ERROR
    assert "promote changes what serves in production, so it needs a signed-in reviewer" in (
        capsys.readouterr().err
    )
    assert release("--config", config, "promote", "--version", "7") == run.EXIT_ERROR
    assert f"model '{name}' has no version '7'" in capsys.readouterr().err
    assert release("--config", config, "promote", "--version", "1") == run.EXIT_ERROR
    assert "version 1 of 'promotion-flow' has not been approved" in capsys.readouterr().err
    assert [e.event for e in read_events(name)] == ["staging_passed"]  # by the training run

    report = load_report("1", name)
    decide(client, name, "1", "approved", "alice", "beats the bar", report.sha256())
    code = release("--config", config, "promote", "--version", "1")
    out = capsys.readouterr().out
    assert code == run.EXIT_OK, out
    url = f"http://127.0.0.1:{serving_ports['production']}/api/v1.0/predictions"
    assert f"PROMOTED: {name} version 1 serves in production at {url} (was: none)" in out
    assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
    features = [c for c in adult_frames[1].columns if c not in {"income", "fnlwgt"}]
    payload = row_payload(adult_frames[1].head(1), features)
    assert _served_version(url, payload) == "1"
    tags = client.get_model_version(name, "1").tags
    assert tags["production_smoke_test"] == "passed" and tags["promoted_by"] == "ci-bot"
    assert [e.event for e in read_events(name)] == [
        "staging_passed", "approved", "promotion_started", "promoted",
    ]  # fmt: skip

    # status --json: the router and the one stable variant, with the README's keys
    assert run.main(["--config", config, "status", "--json"]) == run.EXIT_OK
    production = json.loads(capsys.readouterr().out)["production"]
    assert production["healthy"] and production["stable_version"] == "1"
    assert production["url"] == url
    assert production["router"]["port"] == serving_ports["production"]
    assert production["router"]["running"] and production["router"]["pid"] > 0
    [variant] = production["variants"]
    assert {k: variant[k] for k in ("version", "role", "traffic_percent", "healthy")} == {
        "version": "1", "role": "stable", "traffic_percent": 100, "healthy": True,
    }  # fmt: skip
    assert variant["port"] != serving_ports["production"] and variant["pid"] > 0

    # traffic replays golden rows through the router, bounded by its duration
    code = run.main(["--config", config, "traffic", "production", "--rps", "20", "--duration", "2"])
    out = capsys.readouterr().out
    assert code == run.EXIT_OK and "status 200: " in out and "served by v1: " in out

    # a second promote of the live champion changes nothing
    assert release("--config", config, "promote", "--version", "1") == run.EXIT_OK
    assert "already champion and serving in production; nothing to do" in capsys.readouterr().out

    # version 2: approved, but the production smoke test rejects it -> exit 3, v1 keeps serving
    assert run.main(["--config", config]) == run.EXIT_OK
    capsys.readouterr()
    decide(client, name, "2", "approved", "bob", "also fine", load_report("2", name).sha256())
    # judged again at promotion with another config's (stricter) gates, against champion v1
    strict_gates = str(write_config(
        dict(overrides, gates={"thresholds": {"minimums": {"roc_auc": 0.999}},
                               "latency": relaxed_latency}), name="gates.yaml"
    ))  # fmt: skip
    judged = dict(overrides, deployment={"local_ports": serving_ports,
                                         "production": {"gates_config": strict_gates}})  # fmt: skip
    code = release("--config", str(write_config(judged, name="judged.yaml")), "promote",
                   "--version", "2")  # fmt: skip
    err = capsys.readouterr().err
    assert code == run.EXIT_GATE_REJECTED, err
    assert "REJECTED by gate(s): promotion: thresholds; production keeps serving" in err
    assert (
        f"version 2 fails the promotion gates ({strict_gates}) against the champion of now (1)"
        in err
    )
    assert "roc_auc" in err and "0.999" in err
    assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
    assert _served_version(url, payload) == "1"
    failed = read_events(name)[-1]
    assert failed.event == "promotion_failed" and "PromotionGatesFailed" in failed.detail
    strict = dict(overrides, deployment={"local_ports": serving_ports,
                                         "production": {"smoke_p95_ms": 0.001}})  # fmt: skip
    strict_config = str(write_config(strict, name="strict.yaml"))
    code = release("--config", strict_config, "promote", "--version", "2")
    err = capsys.readouterr().err
    assert code == run.EXIT_GATE_REJECTED, err
    assert "REJECTED by gate(s): production_smoke_test; production keeps serving" in err
    assert "production smoke test of promotion-flow version 2 failed" in err
    assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
    assert _served_version(url, payload) == "1"
    assert read_events(name)[-1].event == "promotion_failed"

    # promoted for real, then rolled back to 1 with a reason; the history answers "live at T"
    assert release("--config", config, "promote", "--version", "2") == run.EXIT_OK
    assert _served_version(url, payload) == "2"
    before_rollback = datetime.now(UTC)
    assert release("--config", config, "rollback", "--to-version", "1", "--reason",
                   "drift alarm", reviewer="oncall") == run.EXIT_OK  # fmt: skip
    assert "ROLLED BACK: promotion-flow version 1 serves in production" in capsys.readouterr().out
    assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
    assert _served_version(url, payload) == "1"
    events = read_events(name)
    assert events[-1].event == "rolled_back" and events[-1].reason == "drift alarm"
    assert events[-1].from_version == "2" and events[-1].actor == "oncall"
    assert live_version_at(events, before_rollback) == "2"
    assert live_version_at(events, datetime.now(UTC)) == "1"
    assert run.main(["--config", config, "history"]) == run.EXIT_OK
    history = capsys.readouterr().out
    assert "rolled_back        v1 (from v2) by oncall: drift alarm" in history
    gates, smoke = [line for line in history.splitlines() if " promotion_failed " in line]
    assert "PromotionGatesFailed: version 2 fails the promotion gates" in gates
    assert "production smoke test of promotion-flow version 2 failed" in smoke

    # blue/green: v2 again beside v1, all traffic switched, v1 kept warm; the rollback to v1 is
    # then one weight change (no new server), and v2 stays warm in its turn
    blue_green = dict(overrides, rollout={
        "strategy": "blue_green", "blue_green": {"observe_seconds": 0, "keep_previous_seconds": 600},
    })  # fmt: skip
    bg_config = str(write_config(blue_green, name="blue-green.yaml"))
    assert release("--config", bg_config, "promote", "--version", "2") == run.EXIT_OK
    assert "switched 100 % to v2; v1 stays warm" in capsys.readouterr().out
    assert _served_version(url, payload) == "2"

    def production_roles() -> dict[str, tuple[str, int, int]]:
        assert run.main(["--config", bg_config, "status", "--json"]) == run.EXIT_OK
        variants = json.loads(capsys.readouterr().out)["production"]["variants"]
        return {v["version"]: (v["role"], v["traffic_percent"], v["pid"]) for v in variants}

    before = production_roles()
    assert {v: r[:2] for v, r in before.items()} == {"2": ("stable", 100), "1": ("previous", 0)}
    assert release("--config", bg_config, "rollback", "--to-version", "1", "--reason",
                   "switch back", reviewer="oncall") == run.EXIT_OK  # fmt: skip
    assert "switched all traffic back to the warm v1" in capsys.readouterr().out
    assert _served_version(url, payload) == "1"
    after = production_roles()
    assert {v: r[:2] for v, r in after.items()} == {"1": ("stable", 100), "2": ("previous", 0)}
    assert after["1"][2] == before["1"][2]  # the same process: nothing was started
    events = read_events(name)
    assert events[-1].event == "rolled_back" and "warm previous version" in events[-1].detail
    assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
    assert run.main(["--config", config, "stop", "production"]) == run.EXIT_ERROR  # who?
    assert "stop changes what serves in production" in capsys.readouterr().err
    assert release("--config", config, "stop", "production", reviewer="oncall") == run.EXIT_OK
    stopped = read_events(name)[-1]
    assert (stopped.event, stopped.version, stopped.actor) == ("stopped", "1", "oncall")
    assert live_version_at(read_events(name), datetime.now(UTC)) is None
