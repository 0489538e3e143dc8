"""The golden set as a split of the train file: stable, duplicate-safe, fingerprinted, shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlcicd.config import ConfigError, GoldenSplit, load_config
from mlcicd.config.run_config import validate_run_config
from mlcicd.data.golden import golden_fingerprint, golden_mask, row_keys, split_golden
from mlcicd.data.loading import load_datasets, read_golden
from mlcicd.reporting.markdown import render_markdown
from mlcicd.reporting.model import EvaluationReport, GoldenSetInfo
from tests.helpers.configs import local_config
from tests.helpers.registry import FIXTURES

SPLIT = GoldenSplit(fraction=0.2, seed=11)


def test_the_same_rows_are_held_out_whatever_the_order_and_appended_rows(adult_frames) -> None:
    train = adult_frames[0].head(4000)
    golden = split_golden(train, SPLIT, "income")[1]
    assert 0.17 < len(golden) / len(train) < 0.23
    shuffled = train.sample(frac=1.0, random_state=3)
    assert golden_fingerprint(split_golden(shuffled, SPLIT, "income")[1]) == golden_fingerprint(
        golden
    )
    grown = pd.concat([train, adult_frames[0].iloc[4000:5000]], ignore_index=True)
    kept = set(row_keys(split_golden(grown, SPLIT, "income")[1]))
    assert set(row_keys(golden)) <= kept  # no old golden row moved into training
    other = GoldenSplit(fraction=0.2, seed=12)
    assert golden_fingerprint(split_golden(train, other, "income")[1]) != golden_fingerprint(golden)


def test_duplicate_rows_never_straddle_the_split(adult_frames) -> None:
    train = adult_frames[0].head(2000)
    doubled = pd.concat([train, train.head(500)], ignore_index=True)
    mask = golden_mask(doubled, SPLIT, "income")
    keys = row_keys(doubled)
    sides: dict[str, set[bool]] = {}
    for key, golden in zip(keys, mask, strict=True):
        sides.setdefault(key, set()).add(bool(golden))
    assert all(len(side) == 1 for side in sides.values())


def test_stratify_takes_the_fraction_of_each_class(adult_frames) -> None:
    train = adult_frames[0].head(3000)
    stratified = GoldenSplit(fraction=0.25, seed=5, stratify=True)
    rest, golden = split_golden(train, stratified, "income")
    for label, count in train["income"].value_counts().items():
        assert (golden["income"] == label).sum() == pytest.approx(round(0.25 * count), abs=2)
    assert len(rest) + len(golden) == len(train)


def _split_config(tmp_path: Path, **split: Any) -> Any:
    raw = local_config()
    raw["data"]["golden"] = {"split": {"fraction": 0.2, "seed": 11, **split}}
    return validate_run_config(raw, "test.yaml")


def test_training_never_sees_the_golden_rows_and_promotion_reads_the_same_ones(
    tmp_path: Path,
) -> None:
    config = _split_config(tmp_path)
    _, schema = load_config("local")
    train, golden = load_datasets(config.data, schema, config.seed)
    assert not set(row_keys(train)) & set(row_keys(golden))
    assert golden_fingerprint(read_golden(config.data, schema)) == golden_fingerprint(golden)
    assert config.data.golden_split is not None
    assert config.data.golden_split.describe() == (
        "split of the train file: 0.2 by row hash, seed 11"
    )


def test_a_golden_file_and_a_split_at_once_is_refused() -> None:
    raw = local_config()
    raw["data"]["golden"] = {"path": "data/adult/adult.test", "split": {"fraction": 0.2}}
    with pytest.raises(ConfigError, match="give either 'path'"):
        validate_run_config(raw, "test.yaml")


def test_the_report_names_the_golden_set_and_a_change_since_the_champion() -> None:
    report = EvaluationReport.model_validate_json((FIXTURES / "evaluation_report.json").read_text())
    before = report.sha256()
    same = GoldenSetInfo(
        source="split of the train file: 0.2 by row hash, seed 11",
        rows=6512,
        fingerprint="ab" * 32,
        champion_source="split of the train file: 0.2 by row hash, seed 11",
    )
    text = render_markdown(report.model_copy(update={"golden": same}))
    assert "golden set: split of the train file: 0.2 by row hash, seed 11" in text
    assert "golden set changed since the champion" not in text
    changed = same.model_copy(update={"champion_source": "file data/adult/adult.test"})
    text = render_markdown(report.model_copy(update={"golden": changed}))
    assert "golden set changed since the champion (file data/adult/adult.test)" in text
    assert report.sha256() == before  # a report without it hashes as before
