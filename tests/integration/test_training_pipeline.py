"""Full runs of the training pipeline through run.py, in the session's private ZenML store."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest
from mlflow import MlflowClient

from mlcicd.cli import main as run

LINEAGE_TAGS = {
    "git_sha", "git_dirty", "data_fingerprint", "config_fingerprint", "zenml_run_id", "stack",
    "python_version", "torch_version", "sklearn_version", "mlflow_run_id", "training_device",
    "training_gpu_name", "training_cuda_version", "training_mixed_precision",
}  # fmt: skip


def _versions(tracking_uri: str, name: str) -> list:
    return MlflowClient(tracking_uri=tracking_uri).search_model_versions(f"name='{name}'")


def _metrics_block(stdout: str) -> list[str]:
    lines = stdout.splitlines()
    start = lines.index("Golden-set metrics:")
    return lines[start : start + 7]


@pytest.fixture
def small_run_config(write_config, adult_sample_files):
    def _make(model_name: str, **extra: object) -> str:
        overrides = adult_sample_files(rows=2500)
        overrides["model_name"] = model_name
        overrides.update(extra)
        return str(write_config(overrides))

    return _make


def test_pipeline_registers_a_challenger_with_lineage_and_is_reproducible(
    zenml_client, tracking_uri, small_run_config, capsys, tmp_path
) -> None:
    config = small_run_config("it-happy-path")
    assert run.main(["--config", config]) == run.EXIT_OK
    first = capsys.readouterr().out
    assert run.main(["--config", config]) == run.EXIT_OK
    second = capsys.readouterr().out
    assert _metrics_block(first) == _metrics_block(second)  # same data + config + seed

    client = MlflowClient(tracking_uri=tracking_uri)
    versions = _versions(tracking_uri, "it-happy-path")
    assert len(versions) == 2
    challenger = client.get_model_version_by_alias("it-happy-path", "challenger")
    assert str(challenger.version) == "2"  # the alias moved to the newest version
    assert set(challenger.tags) >= LINEAGE_TAGS
    assert challenger.tags["stack"] == "local"
    assert challenger.tags["training_device"] == "cpu"  # no GPU on the test machines
    assert challenger.tags["training_cuda_version"] == "none"
    assert len(challenger.tags["data_fingerprint"]) == 64
    run_record = zenml_client.get_pipeline_run(challenger.tags["zenml_run_id"])
    assert run_record.status == "completed"
    assert "Registered: it-happy-path version 2 (alias 'challenger')" in second
    assert "no_champion champion" in second  # the champion gate says so explicitly
    assert "Staging:    version 2 serves at http://127.0.0.1:" in second
    assert str(client.get_model_version_by_alias("it-happy-path", "staging").version) == "2"
    assert (
        challenger.version == client.get_model_version_by_alias("it-happy-path", "staging").version
    )

    from mlcicd.runner.reports import load_report

    report = load_report(str(challenger.version), "it-happy-path")
    assert report.passed
    assert report.sha256() == challenger.tags["evaluation_report_sha256"]
    assert report.challenger.metrics["roc_auc"] > 0.8
    assert {g.gate for g in report.gates} == {
        "data_drift",
        "sanity",
        "thresholds",
        "champion",
        "fairness",
        "latency",
        "golden_rows",
        "onnx_parity",
    }
    assert next(g for g in report.gates if g.gate == "data_drift").status == "no_champion"
    # the package stage: the ONNX export reproduces the pyfunc, travels with the version, and
    # the latency gate timed it (the runtime the servers run)
    parity = next(g for g in report.gates if g.gate == "onnx_parity")
    assert parity.status == "passed", parity.summary
    assert (
        report.packaging is not None
        and report.packaging.rows_compared == report.golden_rows_evaluated
    )
    assert challenger.tags["onnx_sha256"] == report.packaging.sha256
    assert report.latency is not None and report.latency.runtime == "onnx"
    from mlcicd.registry.versions import load_version

    _, onnx_model = load_version(client, "it-happy-path", str(challenger.version))
    assert hashlib.sha256(onnx_model).hexdigest() == report.packaging.sha256
    from mlcicd.registry.profiles import stored_profile

    profile = stored_profile(client, "it-happy-path", str(challenger.version))
    assert profile.sha256() == challenger.tags["reference_profile_sha256"]
    assert profile.data_fingerprint == challenger.tags["data_fingerprint"]
    assert (
        profile.prediction is not None and profile.prediction.rows == report.golden_rows_evaluated
    )
    artifacts = {
        a.path for a in client.list_artifacts(challenger.tags["mlflow_run_id"], "evaluation")
    }
    assert artifacts == {"evaluation/report.json", "evaluation/report.md", "evaluation/report.html"}
    cards = {a.path for a in client.list_artifacts(challenger.tags["mlflow_run_id"], "model_card")}
    assert cards == {"model_card/model_card.md", "model_card/model_card.html"}
    from mlcicd.release.review import load_version_review

    card = load_version_review(client, "it-happy-path", "2").model_card
    assert card.startswith("# Model card: it-happy-path version 2")
    assert "decisions about individual people" in card  # declared in configs/local.yaml
    assert f"{report.challenger.metrics['roc_auc']:.4f}" in card
    validation = {
        a.path for a in client.list_artifacts(challenger.tags["mlflow_run_id"], "data_validation")
    }
    assert {"data_validation/summary.json", "data_validation/data_docs"} <= validation
    epochs = client.get_metric_history(challenger.tags["mlflow_run_id"], "val_loss")
    assert len(epochs) == report.training["epochs_run"] >= 2
    params = client.get_run(challenger.tags["mlflow_run_id"]).data.params
    assert params["hidden_units"] == "[32]" and params["seed"] == "42"

    out = tmp_path / "report.json"
    assert (
        run.main(["--config", config, "report", "2", "--format", "json", "--output", str(out)]) == 0
    )
    from mlcicd.reporting.model import EvaluationReport

    assert EvaluationReport.model_validate_json(out.read_text()).sha256() == report.sha256()
    assert run.main(["--config", config, "report", "latest"]) == 0
    assert "passed every gate" in capsys.readouterr().out
    assert run.main(["--config", config, "report", "99"]) == run.EXIT_ERROR
    assert "has no version 99" in capsys.readouterr().err


def test_hist_gradient_boosting_is_selectable(tracking_uri, small_run_config, capsys) -> None:
    config = small_run_config("it-hgb")
    assert run.main(["--config", config, "--model-type", "hist_gradient_boosting"]) == 0
    version = _versions(tracking_uri, "it-hgb")[0]
    assert version.tags["model_type"] == "hist_gradient_boosting"


def _corrupted(adult_sample_files, adult_frames, case: str) -> dict:
    train = adult_frames[0].head(2500).copy()
    if case == "missing_column":
        train = train.drop(columns=["occupation"])
    elif case == "wrong_dtype":
        train["hours-per-week"] = "forty"
    elif case == "nulls":
        train.loc[:9, "education"] = None
    elif case == "unknown_category":
        train.loc[3, "race"] = "Martian"
    elif case == "out_of_range":
        train.loc[5, "age"] = -4
    elif case == "one_class_label":
        train = adult_frames[0][adult_frames[0]["income"] == "<=50K"].head(2500)
    return adult_sample_files(train=train)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing_column", "expect_column_to_exist on column 'occupation'"),
        ("wrong_dtype", "expect_column_values_to_be_in_type_list on column 'hours-per-week'"),
        ("nulls", "expect_column_values_to_not_be_null on column 'education': 10 unexpected"),
        ("unknown_category", "expect_column_values_to_be_in_set on column 'race'"),
        ("out_of_range", "expect_column_values_to_be_between on column 'age'"),
        ("one_class_label", "expect_column_distinct_values_to_contain_set on column 'income'"),
    ],
)
def test_bad_data_is_rejected_by_the_data_gate(
    zenml_client,
    tracking_uri,
    write_config,
    adult_sample_files,
    adult_frames,
    capsys,
    case,
    expected,
) -> None:
    overrides = _corrupted(adult_sample_files, adult_frames, case)
    overrides["model_name"] = f"bad-{case.replace('_', '-')}"
    code = run.main(["--config", str(write_config(overrides))])
    err = capsys.readouterr().err
    assert code == run.EXIT_GATE_REJECTED
    assert "REJECTED by gate(s): data_validation; nothing was registered." in err
    assert expected in err
    assert "Traceback" not in err
    assert _versions(tracking_uri, overrides["model_name"]) == []
    from mlcicd.errors import PipelineInputError
    from mlcicd.runner.reports import load_report

    with pytest.raises(PipelineInputError, match="stopped before the gate step"):
        load_report("latest", overrides["model_name"])  # never an older run's report


def _input_error_cases(tmp_path: Path) -> dict[str, tuple[dict, str]]:
    empty, garbage = tmp_path / "empty.csv", tmp_path / "garbage.csv"
    empty.write_bytes(b"")
    garbage.write_bytes(gzip.compress(b"\x00\xff" * 5000))
    return {
        "missing_file": ({"data": {"train": {"path": str(tmp_path / "nope.csv")}}},
                         "train data file not found"),
        "empty_file": ({"data": {"train": {"path": str(empty)}}}, "train data file is empty"),
        "unreadable_file": ({"data": {"train": {"path": str(garbage)}}},
                            "cannot parse train data file"),
        "unknown_column": ({"data": {"sensitive_features": ["gender"]}},
                           "data.sensitive_features names column(s) ['gender']"),
        "unknown_model_type": ({"model": {"type": "xgboost"}}, "model.type: Input should be"),
    }  # fmt: skip


@pytest.mark.parametrize(
    "case",
    ["missing_file", "empty_file", "unreadable_file", "unknown_column", "unknown_model_type"],
)
def test_unusable_input_is_an_error_with_a_clear_message(
    zenml_client, tracking_uri, write_config, tmp_path, capsys, case
) -> None:
    overrides, expected = _input_error_cases(tmp_path)[case]
    name = f"err-{case.replace('_', '-')}"
    code = run.main(["--config", str(write_config({**overrides, "model_name": name}))])
    err = capsys.readouterr().err
    assert code == run.EXIT_ERROR
    assert expected in err
    assert "Traceback" not in err
    assert _versions(tracking_uri, name) == []
