"""The monitor's pure parts on synthetic request logs: reading, windows, breaches, actions."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlcicd.config import MonitoringConfig, load_config
from mlcicd.data.loading import feature_columns
from mlcicd.data.profile import build_profile
from mlcicd.errors import PipelineInputError
from mlcicd.monitoring.actions import decide_actions
from mlcicd.monitoring.labels import read_labels
from mlcicd.monitoring.logs import ReadStats, expand_sources, iter_entry_chunks, parse_time
from mlcicd.monitoring.monitor import MonitoringContext, build_monitoring_report
from mlcicd.monitoring.windows import window_start
from mlcicd.release.audit import AuditEvent, previous_live_version
from mlcicd.reporting.monitoring import Breach

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def setting(adult_frames: tuple[pd.DataFrame, pd.DataFrame]) -> dict[str, Any]:
    config, schema = load_config("local")
    train, golden = adult_frames
    probabilities = np.random.default_rng(0).beta(1, 3, size=len(golden))
    profile = build_profile(
        train, schema, model_name=config.model_name, label="income", data_fingerprint="fp",
        golden_probabilities=probabilities, golden_metrics={"roc_auc": 0.90, "accuracy": 0.85},
    )  # fmt: skip
    features = feature_columns(config.data, schema)
    records = [
        {k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
        for r in golden[features].to_dict("records")
    ]
    return {
        "config": config, "schema": schema, "profile": profile, "records": records,
        "probabilities": probabilities, "labels": golden["income"].tolist(),
    }  # fmt: skip


def _entry(at: datetime, i: int, record: dict[str, Any], p: float, **extra: Any) -> str:
    entry = {
        "timestamp": at.isoformat(), "request_id": f"r{i}", "model_version": "1",
        "status": 200, "latency_ms": 4.0 + (i % 10) * 0.5, "records": [record],
        "predictions": [">50K" if p >= 0.5 else "<=50K"], "probabilities": [p],
    }  # fmt: skip
    entry.update(extra)
    return json.dumps(entry)


def _write_log(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def _report(setting: dict[str, Any], sources: list[str], **kwargs: Any) -> Any:
    context = MonitoringContext("1", setting["profile"], 5.0, "fp")
    return build_monitoring_report(
        setting["config"], setting["schema"], context, sources, T0, T0 + timedelta(hours=6),
        **kwargs,
    )  # fmt: skip


def test_times_are_iso_or_durations_and_bad_ones_name_the_flag() -> None:
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    assert parse_time("90m", now) == now - timedelta(minutes=90)
    assert parse_time("2d", now) == now - timedelta(days=2)
    assert parse_time("2026-12-01T08:00:00", now) == T0
    with pytest.raises(PipelineInputError, match="--since 'yesterday' is neither"):
        parse_time("yesterday", now)
    assert window_start(T0 + timedelta(minutes=59, seconds=59), 60) == T0


def test_rotated_logs_are_read_oldest_first_and_bad_lines_are_skipped(tmp_path: Path) -> None:
    base = tmp_path / "requests-v1.jsonl"
    for suffix, minute in (("", 3), (".1", 2), (".2", 1)):
        at = T0 + timedelta(minutes=minute)
        (tmp_path / f"requests-v1.jsonl{suffix}").write_text(
            json.dumps({"timestamp": at.isoformat(), "status": 200}) + "\nnot json\n[1]\n"
        )
    files = expand_sources([str(tmp_path / "requests-v*.jsonl")])
    assert files == [f"{base}.2", f"{base}.1", str(base)]
    stats = ReadStats()
    chunks = list(iter_entry_chunks(files, T0, T0 + timedelta(hours=1), 2, stats))
    assert [len(c) for c in chunks] == [2, 1]
    assert [at.minute for chunk in chunks for at, _ in chunk] == [1, 2, 3]
    assert (stats.lines, stats.skipped) == (9, 6)
    assert expand_sources([str(tmp_path / "nothing-*.jsonl")]) == []


def test_windows_judge_errors_drift_and_predictions_against_the_profile(
    setting: dict[str, Any], tmp_path: Path
) -> None:
    records, probabilities = setting["records"], setting["probabilities"]
    lines = []
    for i in range(3000):
        hour = i // 1000
        at = T0 + timedelta(hours=hour, seconds=i % 1000)
        record = dict(records[i])
        p = float(probabilities[i])
        status = 200
        if hour == 1 and i % 40 == 0:
            status = 500
        if hour == 2:
            record["age"] = min(100, record["age"] + 15)
            p = min(1.0, p + 0.3)
        lines.append(_entry(at, i, record, p, status=status))
    _write_log(tmp_path / "requests-v1.jsonl", lines)
    report = _report(setting, [str(tmp_path / "requests-v*.jsonl")])
    assert [w.traffic.requests for w in report.windows] == [1000, 1000, 1000]
    first, second, third = report.windows
    assert first.breaches == [] and first.drift.compared and not first.drift.drifted_features
    assert first.traffic.p99_ms == pytest.approx(8.5, rel=0.05)
    assert [b.kind for b in second.breaches] == ["errors"]
    assert second.breaches[0].config_key == "monitoring.thresholds.max_error_rate"
    assert second.traffic.error_rate == pytest.approx(0.025)
    assert [b.metric for b in third.breaches] == ["feature:age", "prediction_psi"]
    assert "age" in third.breaches[0].message and "PSI" in third.breaches[0].message
    assert report.lines_read == 3000 and not report.healthy


def test_latency_breach_uses_the_baseline_and_the_floor(
    setting: dict[str, Any], tmp_path: Path
) -> None:
    lines = [
        _entry(T0 + timedelta(seconds=i), i, setting["records"][i], 0.2, latency_ms=35.0)
        for i in range(100)
    ]
    _write_log(tmp_path / "requests-v1.jsonl", lines)
    [window] = _report(setting, [str(tmp_path / "requests-v1.jsonl")]).windows
    [breach] = window.breaches  # 35 ms against max(5 ms smoke-tested, 10 ms floor) = 3.5x
    assert breach.kind == "latency" and breach.value == pytest.approx(3.5, rel=0.05)
    assert window.drift.features[0].drifted is None  # 100 rows: reported, not judged


def test_labels_give_online_metrics_and_a_drop_is_a_breach(
    setting: dict[str, Any], tmp_path: Path
) -> None:
    n = 1200
    truth = [label == ">50K" for label in setting["labels"][:n]]
    good = [0.8 if t else 0.2 for t in truth]
    lines = [_entry(T0 + timedelta(seconds=i), i, setting["records"][i], good[i]) for i in range(n)]
    _write_log(tmp_path / "requests-v1.jsonl", lines)
    labels_file = tmp_path / "labels.csv"
    rows = ["request_id,label"] + [f"r{i},{'>50K' if t else '<=50K'}" for i, t in enumerate(truth)]
    labels_file.write_text("\n".join(rows) + "\n")
    labels = read_labels(labels_file, "income", ">50K", "<=50K")
    [window] = _report(setting, [str(tmp_path / "requests-v1.jsonl")], labels=labels).windows
    assert window.online is not None and window.online.labelled_rows == n
    assert window.online.accuracy == 1.0 and window.online.roc_auc == pytest.approx(1.0)
    assert not [b for b in window.breaches if b.kind == "online_metrics"]
    flipped = {key: not value for key, value in labels.items()}
    [bad] = _report(setting, [str(tmp_path / "requests-v1.jsonl")], labels=flipped).windows
    kinds = [b.metric for b in bad.breaches if b.kind == "online_metrics"]
    assert kinds == ["roc_auc_drop", "accuracy_drop"]


def test_labels_files_with_problems_say_which_line(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("request_id,label\nr1,>50K\nr2,maybe\n")
    with pytest.raises(PipelineInputError, match=r"line 3: label 'maybe' is neither '>50K'"):
        read_labels(path, "income", ">50K", "<=50K")
    path.write_text("id,label\nr1,1\n")
    with pytest.raises(PipelineInputError, match="needs a header with 'request_id'"):
        read_labels(path, "income", ">50K", "<=50K")
    path.write_text("request_id,row,income\nr1,2,1\nr1,0,0\n")
    assert read_labels(path, "income", ">50K", "<=50K") == {("r1", 2): True, ("r1", 0): False}
    with pytest.raises(PipelineInputError, match="labels file not found"):
        read_labels(tmp_path / "none.csv", "income", ">50K", "<=50K")


def _breach(kind: str) -> Breach:
    return Breach(kind=kind, metric="m", value=1.0, threshold=0.5, config_key="k", message=kind)


def test_actions_follow_the_config_rollback_first_once_each() -> None:
    config = MonitoringConfig(
        action="retrain", actions={"errors": "rollback", "latency": "none"},
        on_data_change="retrain",
    )  # fmt: skip
    breaches = [_breach(k) for k in ("drift", "errors", "latency", "errors", "data_change")]
    decided = decide_actions(breaches, config)
    assert [(a.action, a.breach_kinds) for a in decided] == [
        ("rollback", ["errors"]), ("retrain", ["drift", "data_change"]), ("none", ["latency"]),
    ]  # fmt: skip
    assert decide_actions([], config) == []
    assert [a.action for a in decide_actions([_breach("drift")], MonitoringConfig())] == ["none"]


def test_the_rollback_target_is_the_version_live_before_the_champion() -> None:
    def live(event: str, version: str) -> AuditEvent:
        return AuditEvent(event=event, model_name="m", version=version, actor="a", at="t")

    events = [live("promoted", "1"), live("approved", "2"), live("promoted", "2"),
              live("promoted", "3"), live("rolled_back", "2"), live("promoted", "4")]  # fmt: skip
    assert previous_live_version(events, "4") == "2"
    assert previous_live_version(events[:4], "3") == "2"
    assert previous_live_version(events[:1], "1") is None
    assert previous_live_version([], "1") is None
