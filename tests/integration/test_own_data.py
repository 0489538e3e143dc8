"""A dataset other than Adult's text, by config alone: labels and categories stored as codes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from mlflow import MlflowClient

from mlcicd.cli import main as run
from tests.helpers.configs import fast_overrides
from tests.helpers.session import REPO_ROOT

RACES = ["White", "Asian-Pac-Islander", "Amer-Indian-Eskimo", "Other", "Black"]


def test_integer_coded_labels_and_categories_train_gate_and_register(
    zenml_client, tracking_uri, write_config, adult_frames, tmp_path: Path, capsys
) -> None:
    """Adult with income as 0/1 and race as codes 0-4, as many public tables store them."""
    train, golden = (frame.head(2500).copy() for frame in adult_frames)
    for frame in (train, golden):
        frame["income"] = (frame["income"] == ">50K").astype(int)
        frame["race"] = frame["race"].map(RACES.index)
    paths = {role: tmp_path / f"{role}.csv" for role in ("train", "golden")}
    train.to_csv(paths["train"], index=False)
    golden.to_csv(paths["golden"], index=False)
    schema = yaml.safe_load((REPO_ROOT / "configs" / "schemas" / "adult.yaml").read_text())
    for column in schema["columns"]:
        if column["name"] == "income":
            column["values"] = [0, 1]
        if column["name"] == "race":
            column["values"] = list(range(len(RACES)))
    schema_path = tmp_path / "coded.yaml"
    schema_path.write_text(yaml.safe_dump(schema))
    config = write_config(
        {
            "model_name": "it-coded-data",
            "data": {
                "train": {"path": str(paths["train"]), "skip_rows": 0},
                "golden": {"path": str(paths["golden"]), "skip_rows": 0},
                "csv": {"header": True, "skip_initial_space": True, "na_values": ["?"]},
                "schema": str(schema_path),
                "positive_class": 1,
                "label_aliases": {},
                # derived groups: age in bins, the two smallest race codes merged
                "sensitive_features": ["sex", "race", "age"],
                "sensitive_groups": {
                    "age": {"bins": [0, 25, 60, 120]},
                    "race": {"merge": {"2+3": [2, 3]}},
                },
            },
            "gates": {
                # the canonical rows of data/adult/golden_rows.csv write race as text
                "golden_rows": {"enabled": False},
                # age groups differ by far more than the default bound: this test is the wiring
                "fairness": {
                    "max_demographic_parity_difference": 0.9,
                    "max_equalized_odds_difference": 0.9,
                },
            },
        }
    )

    assert run.main(["--config", str(config)]) == run.EXIT_OK, capsys.readouterr().err
    client = MlflowClient(tracking_uri=tracking_uri)
    version = client.get_model_version_by_alias("it-coded-data", "challenger")
    from mlcicd.runner.reports import load_report

    report = load_report(str(version.version), "it-coded-data")
    assert report.positive_class == "1"
    race = next(f for f in report.fairness if f.feature == "race")
    assert {g.group for g in race.groups} <= {"0", "1", "2+3", "4"}
    assert race.definition == "merged: 2+3 = 2 + 3; other values as they are"
    age = next(f for f in report.fairness if f.feature == "age")
    assert {g.group for g in age.groups} <= {"0-25", "25-60", "60-120"}
    assert age.definition.startswith("bins 0-25, 25-60, 60-120")
    # the labels' own disparity is measured beside the model's (no champion yet: none)
    assert age.label_demographic_parity_difference is not None
    assert age.champion_demographic_parity_difference is None
    assert next(g for g in report.gates if g.gate == "onnx_parity").status == "passed"


def test_a_dataset_without_a_test_file_holds_out_a_recorded_golden_split(
    zenml_client, tracking_uri, write_config, adult_sample_files, capsys
) -> None:
    """data.golden as a split of the one file: the version records which rows judged it."""
    overrides = adult_sample_files(rows=5000)
    overrides["data"]["golden"] = {  # the merged local.yaml names a golden file: unset it
        "path": None,
        "skip_rows": 0,
        "split": {"fraction": 0.25, "seed": 4, "stratify": True},
    }
    overrides["model_name"] = "it-golden-split"
    config = write_config(overrides)

    assert run.main(["--config", str(config)]) == run.EXIT_OK, capsys.readouterr().err
    client = MlflowClient(tracking_uri=tracking_uri)
    version = client.get_model_version_by_alias("it-golden-split", "challenger")
    from mlcicd.runner.reports import load_report

    report = load_report(str(version.version), "it-golden-split")
    assert report.golden is not None
    assert report.golden.source == "split of the train file: 0.25 stratified by label, seed 4"
    assert report.golden.rows == report.golden_rows_evaluated
    assert 1240 <= report.golden.rows <= 1260  # a quarter of each class of 5,000 rows
    assert version.tags["golden_fingerprint"] == report.golden.fingerprint
    assert version.tags["golden_source"] == report.golden.source


def _churn_frame(rows: int = 4000) -> pd.DataFrame:
    """A small generated churn table: numbers, text categories, a 0/1 label with signal."""
    rng = np.random.default_rng(7)
    tenure = rng.integers(0, 72, rows)
    charges = np.round(rng.uniform(20, 120, rows), 2)
    contract = rng.choice(["month", "year", "two-year"], rows, p=[0.5, 0.3, 0.2])
    logit = -0.3 - 0.05 * tenure + 0.01 * charges + np.where(contract == "month", 1.0, -1.0)
    churned = (rng.uniform(size=rows) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(
        {"tenure": tenure, "charges": charges, "contract": contract, "churned": churned}
    )
    frame.loc[rng.choice(rows, 40, replace=False), "charges"] = np.nan
    return frame


def test_init_drafts_a_config_that_trains_gates_and_registers(
    zenml_client, tracking_uri, tmp_path: Path, capsys
) -> None:
    data = tmp_path / "churn.csv"
    _churn_frame().to_csv(data, index=False)
    configs = tmp_path / "configs"

    argv = ["init", "--data", str(data), "--configs-dir", str(configs)]
    assert run.main(argv) == run.EXIT_OK
    said = capsys.readouterr().out
    assert "positive_class '1' is the rarer label value" in said
    config_path, schema_path = configs / "churn.yaml", configs / "schemas" / "churn.yaml"
    assert config_path.read_text().startswith("# DRAFT written by `python run.py init")
    schema = yaml.safe_load(schema_path.read_text())
    columns = {c["name"]: c for c in schema["columns"]}
    assert columns["contract"]["values"] == ["month", "two-year", "year"]
    assert columns["churned"] == {"name": "churned", "dtype": "categorical", "values": ["0", "1"]}
    assert columns["tenure"]["dtype"] == "integer" and columns["tenure"]["min"] == 0
    assert columns["charges"]["dtype"] == "float" and columns["charges"]["nullable"] is True
    assert run.main(argv) == run.EXIT_ERROR  # an existing draft is never overwritten silently
    assert "--force" in capsys.readouterr().err

    # the session's private ports and checkpoints: the rest as drafted
    drafted = yaml.safe_load(config_path.read_text())
    fast = fast_overrides(tmp_path / "checkpoints")
    drafted.update({key: fast[key] for key in ("training", "deployment")})
    config_path.write_text(yaml.safe_dump(drafted))
    assert run.main(["--config", str(config_path)]) == run.EXIT_OK, capsys.readouterr().err
    client = MlflowClient(tracking_uri=tracking_uri)
    assert str(client.get_model_version_by_alias("churn", "challenger").version) == "1"
