"""Derived sensitive groups: bins of a numeric column, merged categories, both shown as defined."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlcicd.config import ConfigError, FairnessGateConfig, SensitiveGroups, load_config
from mlcicd.config.run_config import check_config_against_schema, validate_run_config
from mlcicd.evaluation.groups import (
    MISSING_GROUP,
    OUTSIDE_GROUP,
    describe_groups,
    group_labels,
)
from mlcicd.evaluation.scoring import fairness_tables
from mlcicd.reporting.markdown import render_markdown
from tests.helpers.configs import local_config

AGE_BINS = SensitiveGroups(bins=[0, 25, 60, 120])


def test_bins_are_right_open_and_missing_or_outside_values_are_their_own_groups() -> None:
    ages = pd.Series([17, 24.9, 25, 59, 60, 119, 120, -1, None])
    assert list(group_labels(ages, AGE_BINS)) == [
        "0-25", "0-25", "25-60", "25-60", "60-120", "60-120",
        OUTSIDE_GROUP, OUTSIDE_GROUP, MISSING_GROUP,
    ]  # fmt: skip
    assert describe_groups(AGE_BINS).startswith("bins 0-25, 25-60, 60-120 (right-open)")


def test_merged_categories_keep_the_others_as_they_are() -> None:
    merged = SensitiveGroups(merge={"Other": ["Other", "Amer-Indian-Eskimo"]})
    races = pd.Series(["White", "Other", "Amer-Indian-Eskimo", None])
    assert list(group_labels(races, merged)) == ["White", "Other", "Other", MISSING_GROUP]
    assert describe_groups(merged) == (
        "merged: Other = Other + Amer-Indian-Eskimo; other values as they are"
    )
    assert describe_groups(None) == ""


def test_fairness_is_judged_and_reported_over_the_derived_groups(adult_frames) -> None:
    golden = adult_frames[1].head(3000)
    y = (golden["income"] == ">50K").astype(int).to_numpy()
    probability = np.where(golden["age"].to_numpy() > 40, 0.7, 0.2)
    [age] = fairness_tables(
        golden, y, probability, 0.5, ["age"], FairnessGateConfig(), {"age": AGE_BINS}
    )
    assert {g.group for g in age.groups} <= {"0-25", "25-60", "60-120"}
    assert age.definition == describe_groups(AGE_BINS)
    rates = {g.group: g.selection_rate for g in age.groups}
    assert rates["0-25"] == 0.0 and age.demographic_parity_difference > 0.5


def _raw(**data: Any) -> dict[str, Any]:
    raw = local_config()
    raw["data"] = {**raw["data"], **data}
    return raw


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ({"age": {"bins": [0, 25]}}, "'age' is not in data.sensitive_features"),
        ({"sex": {"bins": [0, 1]}}, "data.sensitive_groups.sex.bins: 'sex' is categorical"),
        ({"race": {"merge": {"X": ["Martian"]}}}, "names ['Martian'], not declared for 'race'"),
    ],
)
def test_group_definitions_are_checked_against_the_schema(groups, message) -> None:
    config = validate_run_config(_raw(sensitive_groups=groups), "test.yaml")
    _, schema = load_config("local")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        check_config_against_schema(config, schema)


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ({"bins": [0, 25, 25]}, "at least two increasing edges"),
        ({"bins": [0, 1], "merge": {"a": ["b"]}}, "exactly one of 'bins'"),
        ({"merge": {"a": ["x"], "b": ["x"]}}, "listed twice: ['x']"),
    ],
)
def test_malformed_group_definitions_are_refused(groups, message) -> None:
    with pytest.raises(ConfigError) as error:
        validate_run_config(
            _raw(sensitive_features=["sex", "race", "age"], sensitive_groups={"age": groups}),
            "test.yaml",
        )
    assert message in str(error.value)
    assert "data.sensitive_groups.age" in str(error.value)


def test_the_report_shows_how_the_groups_were_formed(adult_frames) -> None:
    from mlcicd.reporting.model import EvaluationReport
    from tests.helpers.registry import FIXTURES

    report = EvaluationReport.model_validate_json((FIXTURES / "evaluation_report.json").read_text())
    before = report.sha256()
    fairness = [f.model_copy(update={"definition": "bins 0-25, 25-60"}) for f in report.fairness]
    defined = report.model_copy(update={"fairness": fairness})
    assert "Groups: bins 0-25, 25-60" in render_markdown(defined)
    assert report.sha256() == before  # a report without definitions hashes as before
