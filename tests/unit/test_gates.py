"""Each gate on small hand-made inputs whose right answer is known."""

import numpy as np
import pandas as pd
import pytest

from mlcicd.config import (
    ChampionGateConfig,
    FairnessGateConfig,
    GoldenRowsGateConfig,
    LatencyGateConfig,
    SanityGateConfig,
    ThresholdGateConfig,
)
from mlcicd.evaluation.gates import (
    champion_gate,
    fairness_gate,
    golden_rows_gate,
    latency_gate,
    sanity_gate,
    threshold_gate,
)
from mlcicd.evaluation.scoring import fairness_tables, score_model
from mlcicd.reporting.model import (
    ChampionInfo,
    FairnessResult,
    GoldenRowPrediction,
    LatencyResult,
    ModelScores,
)

METRICS = {"accuracy": 0.85, "roc_auc": 0.91, "f1": 0.67, "precision": 0.73, "recall": 0.61,
           "log_loss": 0.31}  # fmt: skip


def scores(**changes: float) -> ModelScores:
    return ModelScores(metrics={**METRICS, **changes}, probability_std=0.3, positive_rate=0.2)


def latency(p95: float, p99: float | None = None, rps: float = 10_000.0) -> LatencyResult:
    return LatencyResult(p50_ms=p95 / 2, p95_ms=p95, p99_ms=p99 or p95 * 1.2, mean_ms=p95 / 2,
                         batch_size=1024, batch_rows_per_second=rps)  # fmt: skip


def test_thresholds_pass_and_fail_with_margins() -> None:
    config = ThresholdGateConfig(minimums={"roc_auc": 0.90}, maximums={"log_loss": 0.30})
    result = threshold_gate(config, scores())
    assert result.status == "failed"
    auc, loss = result.checks
    assert auc.passed and auc.margin == pytest.approx(0.01)
    assert not loss.passed and loss.margin == pytest.approx(-0.01)
    assert "log_loss 0.31 (needs <= 0.3, off by 0.01)" in result.summary
    assert (
        threshold_gate(config.model_copy(update={"enabled": False}), scores()).status == "skipped"
    )


def test_unknown_threshold_metric_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="unknown metric"):
        ThresholdGateConfig(minimums={"auc": 0.9})


def test_champion_gate_without_champion_is_explicit() -> None:
    result = champion_gate(ChampionGateConfig(), scores(), None)
    assert result.status == "no_champion" and not result.failed
    assert "no champion yet" in result.summary


def test_champion_gate_requires_improvement_and_guards_regressions() -> None:
    champ = ChampionInfo(version="4", scores=scores(roc_auc=0.905, accuracy=0.87, log_loss=0.305))
    config = ChampionGateConfig(min_improvement=0.0, tolerance=0.01,
                                guarded_metrics=["accuracy", "log_loss"])  # fmt: skip
    result = champion_gate(config, scores(), champ)
    by_name = {c.name: c for c in result.checks}
    assert by_name["roc_auc improvement"].passed  # 0.91 vs 0.905
    assert not by_name["accuracy"].passed  # 0.85 < 0.87 - 0.01
    assert by_name["log_loss"].passed  # 0.31 <= 0.305 + 0.01 (lower is better)
    assert result.failed
    better = ChampionInfo(version="4", scores=scores(roc_auc=0.95))
    assert champion_gate(config, scores(), better).failed
    equal = ChampionInfo(version="4", scores=scores())
    assert champion_gate(config, scores(), equal).status == "passed"


def test_champion_that_cannot_be_scored_blocks() -> None:
    broken = ChampionInfo(version="2", scores=ModelScores(metrics={}), error="KeyError: 'age'")
    result = champion_gate(ChampionGateConfig(), scores(), broken)
    assert result.failed and "could not be scored" in result.summary


def test_fairness_tables_on_known_groups() -> None:
    frame = pd.DataFrame({"g": ["a"] * 6 + ["b"] * 4 + ["c"] * 2})
    y = np.array([1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0])
    p = np.array([0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.9, 0.9])
    (result,) = fairness_tables(frame, y, p, 0.5, ["g"], FairnessGateConfig(min_group_size=3))
    groups = {g.group: g for g in result.groups}
    assert groups["a"].selection_rate == pytest.approx(0.5)
    assert groups["b"].selection_rate == 0.0
    assert groups["a"].true_positive_rate == 1.0 and groups["a"].false_positive_rate == 0.25
    assert groups["b"].true_positive_rate == 0.0
    assert groups["c"].small and not groups["a"].small
    assert result.groups_in_verdict == ["a", "b"]  # c (2 rows) is reported, not judged
    assert result.demographic_parity_difference == pytest.approx(0.5)
    assert result.equalized_odds_difference == pytest.approx(1.0)  # TPR 1.0 vs 0.0


def test_fairness_gate_ignores_features_without_two_judged_groups() -> None:
    config = FairnessGateConfig(max_demographic_parity_difference=0.1)
    unfair = FairnessResult(
        feature="sex",
        groups=[],
        demographic_parity_difference=0.3,
        equalized_odds_difference=0.05,
        groups_in_verdict=["F", "M"],
    )
    tiny = unfair.model_copy(update={"feature": "race", "groups_in_verdict": ["White"]})
    result = fairness_gate(config, [unfair, tiny])
    assert result.failed
    assert [c.name for c in result.checks if not c.passed and c.counts_for_verdict] == [
        "sex demographic parity difference"
    ]
    assert fairness_gate(config, [tiny]).status == "passed"


def test_latency_gate_sla_throughput_and_slowdown() -> None:
    config = LatencyGateConfig(max_p95_ms=10, max_p99_ms=20, min_batch_rows_per_second=1000,
                               max_slowdown_vs_champion=2.0)  # fmt: skip
    assert latency_gate(config, latency(5.0), None).status == "passed"
    assert latency_gate(config, latency(12.0), None).failed
    assert latency_gate(config, latency(5.0, rps=500), None).failed
    slow_vs_champ = ChampionInfo(version="1", scores=scores(), latency=latency(2.0))
    result = latency_gate(config, latency(5.0), slow_vs_champ)
    assert result.failed and "p95 slowdown vs champion (x) 2.5" in result.summary


def test_golden_rows_gate_counts_flips() -> None:
    rows = [GoldenRowPrediction(row=i, challenger_probability=0.6, challenger_prediction="y",
                                champion_probability=0.4, champion_prediction="n", flipped=True)
            for i in range(3)]  # fmt: skip
    assert (
        golden_rows_gate(GoldenRowsGateConfig(path="x", max_flips=3), rows, True).status == "passed"
    )
    assert golden_rows_gate(GoldenRowsGateConfig(path="x", max_flips=2), rows, True).failed
    assert golden_rows_gate(GoldenRowsGateConfig(path="x"), rows, False).status == "no_champion"


def test_golden_rows_gate_needs_a_path_when_enabled() -> None:
    with pytest.raises(ValueError, match="has no 'path'"):
        GoldenRowsGateConfig(enabled=True)


def test_sanity_gate_catches_constant_predictor_and_exploding_loss() -> None:
    config = SanityGateConfig()
    constant = ModelScores(metrics=METRICS, probability_std=0.0, positive_rate=0.0)
    result = sanity_gate(config, constant, {})
    assert result.failed
    assert {c.name for c in result.checks if not c.passed} == {
        "probability standard deviation",
        "predicts both classes",
    }
    exploding = {
        "epochs": [{"train_loss": 0.4, "val_loss": 0.4}, {"train_loss": 0.9, "val_loss": 1.2}]
    }
    assert sanity_gate(config, scores(), exploding).failed
    nan = {"epochs": [{"train_loss": 0.4, "val_loss": float("nan")}]}
    assert sanity_gate(config, scores(), nan).failed
    healthy = {
        "epochs": [{"train_loss": 0.5, "val_loss": 0.4}, {"train_loss": 0.3, "val_loss": 0.35}]
    }
    assert sanity_gate(config, scores(), healthy).status == "passed"


def test_score_model_curves_and_confusion() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.6, 0.4, 0.9])
    result = score_model(y, p, 0.5)
    assert result.confusion is not None
    assert (result.confusion.true_negative, result.confusion.false_positive) == (1, 1)
    assert (result.confusion.false_negative, result.confusion.true_positive) == (1, 1)
    assert result.roc_curve[0].x == 0.0 and result.roc_curve[-1].x == 1.0
    assert result.positive_rate == 0.5
