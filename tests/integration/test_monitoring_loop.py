"""The loop after production: real traffic through the router, monitored, alerted, acted upon.

Two trained versions (v1 then v2 promoted), golden rows and then shifted rows sent to the real
production server, `run.py monitor` over each: healthy first (with online metrics from a labels
file), then drift -> an alert in the audit log -> rollback to v1 and a retrain whose new version
waits as challenger. The retrain's training batch had changed, which the drift check before
training reports; with `on_drift: block` the same batch is stopped before training.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import requests
from mlflow import MlflowClient

from mlcicd.cli import main as run
from mlcicd.monitoring.history import recent_reports
from mlcicd.release.approvals import decide
from mlcicd.release.audit import read_events
from mlcicd.release.smoke_test import row_payload
from mlcicd.runner.reports import load_report
from tests.helpers.reviewers import as_reviewer, write_reviewers

ROWS_PER_REQUEST = 25


def _send(url: str, frame: pd.DataFrame, features: list[str]) -> list[str]:
    """POST the rows in batches; returns each batch's request id (meta.puid)."""
    ids = []
    for start in range(0, len(frame), ROWS_PER_REQUEST):
        batch = frame.iloc[start : start + ROWS_PER_REQUEST]
        answer = requests.post(url, json=row_payload(batch, features), timeout=30)
        assert answer.status_code == 200, answer.text
        ids.append(answer.json()["meta"]["puid"])
    return ids


def test_monitor_flags_shifted_traffic_alerts_and_rolls_back_and_retrains(
    zenml_client, tracking_uri, write_config, adult_sample_files, adult_frames, capsys,
    serving_ports, tmp_path: Path, monkeypatch,
) -> None:  # fmt: skip
    name = "monitoring-loop"
    train, golden = adult_frames
    overrides = adult_sample_files(rows=2500)
    overrides["model_name"] = name
    # the retrain sees capital-gain x10: this test is about the loop, not about beating v1
    overrides["gates"] = {
        "champion": {"min_improvement": -0.05, "tolerance": 0.1},
        # judged again at promotion: on a loaded runner the latency ratio is noise
        "latency": {
            "max_slowdown_vs_champion": 100.0,
            "max_p95_ms": 1000,
            "max_p99_ms": 2000,
            "min_batch_rows_per_second": 1.0,
        },
    }
    overrides["monitoring"] = {
        "window_minutes": 60,
        "action": "none",
        "actions": {"drift": "rollback"},
        "on_data_change": "retrain",
        "thresholds": {"min_labelled_rows": 100},
    }
    config = str(write_config(overrides))
    client = MlflowClient(tracking_uri=tracking_uri)
    write_reviewers(tmp_path, monkeypatch, "alice")
    for version in ("1", "2"):
        assert run.main(["--config", config]) == run.EXIT_OK
        report = load_report(version, name)
        decide(client, name, version, "approved", "alice", "fine", report.sha256())
        promote = ["--config", config, "promote", "--version", version]
        assert as_reviewer(monkeypatch, "alice", promote) == run.EXIT_OK
    capsys.readouterr()
    assert load_report("2", name).drift is not None
    assert load_report("2", name).drift.reference_version == "1"  # type: ignore[union-attr]
    assert not load_report("2", name).drift.drifted_features  # type: ignore[union-attr]

    url = f"http://127.0.0.1:{serving_ports['production']}/api/v1.0/predictions"
    features = [c for c in golden.columns if c not in {"income", "fnlwgt"}]
    clean = golden.iloc[:750]
    started = datetime.now(UTC).isoformat()
    ids = _send(url, clean, features)
    labels = tmp_path / "labels.csv"
    lines = ["request_id,row,label"] + [
        f"{ids[i // ROWS_PER_REQUEST]},{i % ROWS_PER_REQUEST},{label}"
        for i, label in enumerate(clean["income"])
    ]
    labels.write_text("\n".join(lines) + "\n")

    out_dir = tmp_path / "healthy"
    code = run.main(["--config", config, "monitor", "--since", started, "--labels", str(labels),
                     "--output-dir", str(out_dir)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == run.EXIT_OK, out
    healthy = json.loads((out_dir / "report.json").read_text())
    assert healthy["champion_version"] == "2" and healthy["actions"] == []
    [window] = healthy["windows"]
    assert window["traffic"]["predicted_rows"] == 750 and window["traffic"]["server_errors"] == 0
    assert window["online"]["labelled_rows"] == 750 and window["online"]["roc_auc"] > 0.75
    assert window["drift"]["features"] and not any(
        f["drifted"] for f in window["drift"]["features"]
    )
    assert (out_dir / "report.html").read_text().startswith("<!DOCTYPE html>")

    # shifted traffic, and a changed training file: drift -> rollback, data change -> retrain
    shifted_start = datetime.now(UTC).isoformat()
    shifted = clean.assign(age=(clean["age"] + 15).clip(upper=100))
    _send(url, shifted, features)
    changed = train.head(2500).assign(
        **{"capital-gain": (train["capital-gain"].head(2500) * 10).clip(upper=99999)}
    )
    changed.to_csv(Path(overrides["data"]["train"]["path"]), index=False)
    assert run.main(["--config", config, "monitor", "--check-data"]) == run.EXIT_GATE_REJECTED
    assert "DATA CHANGED: the training data changed since champion v2" in capsys.readouterr().out

    out_dir = tmp_path / "drifted"
    code = run.main(["--config", config, "monitor", "--since", shifted_start,
                     "--output-dir", str(out_dir)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == run.EXIT_GATE_REJECTED, out
    assert "BREACH [drift] input 'age' drifted: PSI" in out
    assert "BREACH [data_change] the training data changed since champion v2" in out
    assert "ACTION rollback: rolled back from v2 to v1" in out
    assert "ACTION retrain: retrained: registered v3 as challenger" in out
    assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
    assert str(client.get_model_version_by_alias(name, "challenger").version) == "3"
    retrained = load_report("3", name)
    assert retrained.drift is not None and retrained.drift.reference_version == "1"
    assert [f.feature for f in retrained.drift.drifted_features] == ["capital-gain"]
    assert next(g for g in retrained.gates if g.gate == "data_drift").status == "warned"

    events = [e for e in read_events(name) if e.event.startswith("monitoring_")]
    assert [e.event for e in events] == ["monitoring_alert"] * 2 + ["monitoring_action"] * 2
    assert "age" in events[0].reason and events[0].detail == "drift -> rollback"
    stored = recent_reports(client, name, "production", limit=5)
    assert [len(r.windows) for _, r in stored][:2] == [1, 1]
    latest = stored[0][1]
    assert [a.action for a in latest.actions] == ["rollback", "retrain"]
    assert latest.actions[0].outcome.startswith("rolled back from v2 to v1")

    # the same changed batch, with on_drift: block, stops before training with the column named
    blocking = dict(overrides, drift={"on_drift": "block"})
    code = run.main(["--config", str(write_config(blocking, name="block.yaml"))])
    err = capsys.readouterr().err
    assert code == run.EXIT_GATE_REJECTED, err
    assert "REJECTED by gate(s): data_drift" in err and "capital-gain: PSI" in err
    assert len(client.search_model_versions(f"name = '{name}'")) == 3
