"""The fairness gate relative to the data's own disparity and to the champion's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlcicd.config import ConfigError, FairnessGateConfig
from mlcicd.config.run_config import validate_run_config
from mlcicd.evaluation.gates import fairness_gate
from mlcicd.evaluation.scoring import fairness_tables
from mlcicd.reporting.markdown import render_markdown
from mlcicd.reporting.model import EvaluationReport, FairnessResult
from tests.helpers.configs import local_config
from tests.helpers.registry import FIXTURES


def _result(dpd: float, label_dpd: float, champion: float | None = None) -> FairnessResult:
    return FairnessResult(
        feature="sex",
        groups=[],
        demographic_parity_difference=dpd,
        equalized_odds_difference=0.05,
        groups_in_verdict=["Female", "Male"],
        label_demographic_parity_difference=label_dpd,
        champion_demographic_parity_difference=champion,
        champion_equalized_odds_difference=None if champion is None else 0.05,
    )


def test_a_disparity_the_data_already_has_passes_when_judged_relative_to_the_data() -> None:
    result = _result(dpd=0.31, label_dpd=0.29)
    assert fairness_gate(FairnessGateConfig(), [result]).status == "failed"  # absolute 0.25
    relative = FairnessGateConfig(absolute=False, max_excess_over_data=0.05)
    gate = fairness_gate(relative, [result])
    assert gate.status == "passed", gate.summary
    names = [c.name for c in gate.checks if c.counts_for_verdict]
    assert names == ["sex demographic parity difference above the data's own"]
    amplified = fairness_gate(relative, [_result(dpd=0.40, label_dpd=0.29)])
    assert amplified.status == "failed"
    assert "sex demographic parity difference above the data's own 0.11" in amplified.summary


def test_no_more_than_x_worse_than_the_champion() -> None:
    config = FairnessGateConfig(max_worse_than_champion=0.02)
    assert fairness_gate(config, [_result(0.20, 0.19, champion=0.19)]).status == "passed"
    worse = fairness_gate(config, [_result(0.20, 0.19, champion=0.10)])
    assert worse.status == "failed"
    assert "above the champion's" in worse.summary
    # no champion yet: the champion bound has nothing to compare and does not decide
    assert fairness_gate(config, [_result(0.20, 0.19)]).status == "passed"


def test_a_gate_with_nothing_to_decide_is_refused() -> None:
    raw = local_config()
    raw["gates"]["fairness"] = {**raw["gates"]["fairness"], "absolute": False}
    with pytest.raises(ConfigError, match="nothing would decide"):
        validate_run_config(raw, "test.yaml")


def test_the_data_and_the_champion_disparities_are_measured_on_the_same_groups() -> None:
    groups = pd.DataFrame({"sex": ["F"] * 400 + ["M"] * 400})
    y = np.array([1] * 40 + [0] * 360 + [1] * 120 + [0] * 280)  # label rates 0.10 / 0.30
    ours = np.where(np.arange(800) < 400, 0.9 * (np.arange(800) < 80), 0.9 * (y == 1))
    champion = y.copy()  # a champion that predicts the labels exactly
    [sex] = fairness_tables(groups, y, ours, 0.5, ["sex"], FairnessGateConfig(), None, champion)
    assert sex.label_demographic_parity_difference == pytest.approx(0.20)
    assert sex.demographic_parity_difference == pytest.approx(0.10)  # 0.20 vs 0.30
    assert sex.champion_demographic_parity_difference == pytest.approx(0.20)
    assert sex.champion_equalized_odds_difference == pytest.approx(0.0)


def test_the_report_shows_all_three_numbers() -> None:
    report = EvaluationReport.model_validate_json((FIXTURES / "evaluation_report.json").read_text())
    before = report.sha256()
    fairness = [
        f.model_copy(
            update={
                "label_demographic_parity_difference": 0.1961,
                "champion_demographic_parity_difference": 0.1702,
                "champion_equalized_odds_difference": 0.0712,
            }
        )
        for f in report.fairness
    ]
    text = render_markdown(report.model_copy(update={"fairness": fairness}))
    assert "the labels' own demographic parity difference 0.1961" in text
    assert "the champion's 0.1702 / 0.0712" in text
    assert report.sha256() == before  # reports without them hash as before
