"""Crafted bad models must be rejected by the right gate, with exit code 3 and no registry change."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from mlcicd.cli import main as run
from mlcicd.registry.versions import move_alias
from mlcicd.runner.reports import load_report


def _registry_state(tracking_uri: str, name: str) -> list[tuple[str, tuple[str, ...]]]:
    client = MlflowClient(tracking_uri=tracking_uri)
    versions = client.search_model_versions(f"name='{name}'")  # search results omit aliases
    full = [client.get_model_version(name, str(v.version)) for v in versions]
    return sorted((str(v.version), tuple(sorted(v.aliases))) for v in full)


@pytest.fixture
def gated_config(write_config, adult_sample_files):
    def _make(model_name: str, gates: dict | None = None) -> str:
        overrides = adult_sample_files(rows=2500)
        overrides["model_name"] = model_name
        if gates:
            overrides["gates"] = gates
        return str(write_config(overrides))

    return _make


def _assert_rejected(code: int, err: str, gate: str, model_name: str) -> None:
    assert code == run.EXIT_GATE_REJECTED, err
    headline = next(line for line in err.splitlines() if line.startswith("REJECTED by gate(s): "))
    assert gate in headline.removeprefix("REJECTED by gate(s): ").split("; ")[0].split(", ")
    assert headline.endswith("; nothing was registered.")
    assert "Full report: python run.py report training-" in err
    assert "Traceback" not in err
    report = load_report("latest", model_name)
    assert gate in [g.gate for g in report.failed_gates]
    assert not report.passed


DEFAULT_THRESHOLDS = {
    "minimums": {"roc_auc": 0.90, "accuracy": 0.84, "f1": 0.60},
    "maximums": {"log_loss": 0.36},
}


@pytest.mark.parametrize(
    ("case", "argv", "gates", "gate", "message"),
    [
        ("constant", ["--model-type", "baseline"], None, "sanity",
         "probability standard deviation"),
        ("one-percent", ["--sample-rows", "325"], {"thresholds": DEFAULT_THRESHOLDS},
         "thresholds", "roc_auc"),
        ("unfair", [], {"fairness": {"max_demographic_parity_difference": 0.01}}, "fairness",
         "sex demographic parity difference"),
        ("slow", [], {"latency": {"max_p95_ms": 0.001, "single_row_requests": 20}}, "latency",
         "p95 single-row latency (ms)"),
    ],
)  # fmt: skip
def test_crafted_failures_are_rejected_by_the_named_gate(
    zenml_client, tracking_uri, gated_config, capsys, case, argv, gates, gate, message
) -> None:
    name = f"gate-{case}"
    code = run.main(["--config", gated_config(name, gates), *argv])
    err = capsys.readouterr().err
    _assert_rejected(code, err, gate, name)
    assert message in err
    assert _registry_state(tracking_uri, name) == []


def test_better_champion_blocks_a_weaker_challenger(
    zenml_client, tracking_uri, gated_config, capsys
) -> None:
    name = "gate-champion"
    config = gated_config(name)
    assert run.main(["--config", config]) == run.EXIT_OK
    move_alias(MlflowClient(tracking_uri=tracking_uri), name, "champion", "1")
    before = _registry_state(tracking_uri, name)
    assert before == [("1", ("challenger", "champion", "staging"))]
    capsys.readouterr()

    code = run.main(["--config", config, "--sample-rows", "400"])
    err = capsys.readouterr().err
    _assert_rejected(code, err, "champion", name)
    assert "roc_auc improvement" in err
    assert _registry_state(tracking_uri, name) == before
    report = load_report("latest", name)
    assert report.champion is not None and report.champion.version == "1"
    assert report.metric_deltas()["roc_auc"] < 0
    golden = next(g for g in report.gates if g.gate == "golden_rows")
    assert golden.status in {"passed", "failed"}  # compared against the champion, not skipped
