"""The quality gates: pure functions from evidence to verdicts.

Each gate returns a GateResult whose checks carry the observed value, the threshold and the margin,
so a rejection always says which bar was missed and by how much. A disabled gate reports
"skipped"; it never silently passes.
"""

from __future__ import annotations

import math
from typing import Any

from mlcicd.config import (
    METRIC_DIRECTIONS,
    ChampionGateConfig,
    DriftConfig,
    FairnessGateConfig,
    GatesConfig,
    GoldenRowsGateConfig,
    LatencyGateConfig,
    PackagingConfig,
    SanityGateConfig,
    ThresholdGateConfig,
)
from mlcicd.reporting.drift import DriftReport
from mlcicd.reporting.model import (
    ChampionInfo,
    Check,
    FairnessResult,
    GateResult,
    GateStatus,
    GoldenRowPrediction,
    LatencyResult,
    ModelScores,
    PackagingResult,
)


def _at_least(name: str, observed: float, minimum: float, counts: bool = True) -> Check:
    return Check(
        name=name,
        observed=observed,
        threshold=minimum,
        comparison=">=",
        passed=observed >= minimum,
        margin=observed - minimum,
        counts_for_verdict=counts,
    )


def _at_most(name: str, observed: float, maximum: float, counts: bool = True) -> Check:
    return Check(
        name=name,
        observed=observed,
        threshold=maximum,
        comparison="<=",
        passed=observed <= maximum,
        margin=maximum - observed,
        counts_for_verdict=counts,
    )


def _skipped(gate: str) -> GateResult:
    return GateResult(gate=gate, status="skipped", summary="disabled in config")


def _verdict(gate: str, checks: list[Check], ok_summary: str) -> GateResult:
    failed = [c for c in checks if c.counts_for_verdict and not c.passed]
    if not failed:
        return GateResult(gate=gate, status="passed", summary=ok_summary, checks=checks)
    worst = ", ".join(
        f"{c.name} {c.observed:.4g} (needs {c.comparison} {c.threshold:.4g}, off by "
        f"{abs(c.margin or 0):.4g})"
        if c.observed is not None and c.threshold is not None
        else c.name
        for c in failed
    )
    return GateResult(gate=gate, status="failed", summary=f"failed: {worst}", checks=checks)


def threshold_gate(config: ThresholdGateConfig, scores: ModelScores) -> GateResult:
    """Absolute bars on the golden-set metrics."""
    if not config.enabled:
        return _skipped("thresholds")
    checks = [_at_least(m, scores.metrics[m], v) for m, v in config.minimums.items()]
    checks += [_at_most(m, scores.metrics[m], v) for m, v in config.maximums.items()]
    return _verdict("thresholds", checks, "every metric meets its configured bar")


def champion_gate(
    config: ChampionGateConfig, scores: ModelScores, champion: ChampionInfo | None
) -> GateResult:
    """Improve the primary metric by min_improvement; regress no guarded metric beyond tolerance."""
    if not config.enabled:
        return _skipped("champion")
    if champion is None:
        return GateResult(
            gate="champion",
            status="no_champion",
            summary="no champion yet: nothing to compare against, so this gate does not block",
        )
    if champion.error:
        return GateResult(
            gate="champion",
            status="failed",
            summary=f"failed: champion version {champion.version} could not be scored: "
            f"{champion.error}",
        )
    ours, theirs = scores.metrics, champion.scores.metrics
    primary = config.primary_metric
    sign = 1.0 if METRIC_DIRECTIONS[primary] else -1.0
    improvement = sign * (ours[primary] - theirs[primary])
    checks = [_at_least(f"{primary} improvement", improvement, config.min_improvement)]
    for metric in config.guarded_metrics:
        if metric == primary:
            continue
        if METRIC_DIRECTIONS[metric]:
            checks.append(_at_least(metric, ours[metric], theirs[metric] - config.tolerance))
        else:
            checks.append(_at_most(metric, ours[metric], theirs[metric] + config.tolerance))
    return _verdict(
        "champion",
        checks,
        f"{primary} {improvement:+.4f} versus champion version {champion.version} "
        f"(needs >= {config.min_improvement:+.4f}); no guarded metric regressed",
    )


def fairness_gate(config: FairnessGateConfig, fairness: list[FairnessResult]) -> GateResult:
    """Disparity bounds per sensitive feature, judged on groups of at least min_group_size.

    Absolute bounds (`absolute: false` keeps them in the report only), and, when configured,
    bounds relative to the data (the model's demographic parity difference minus the label's
    own) and to the champion (each difference minus the champion's on the same rows).
    """
    if not config.enabled:
        return _skipped("fairness")
    checks: list[Check] = []
    for result in fairness:
        judged = len(result.groups_in_verdict) >= 2
        feature = result.feature
        checks.append(
            _at_most(
                f"{feature} demographic parity difference",
                result.demographic_parity_difference,
                config.max_demographic_parity_difference,
                counts=judged and config.absolute,
            )
        )
        checks.append(
            _at_most(
                f"{feature} equalized odds difference",
                result.equalized_odds_difference,
                config.max_equalized_odds_difference,
                counts=judged and config.absolute,
            )
        )
        data_dpd = result.label_demographic_parity_difference
        if config.max_excess_over_data is not None and data_dpd is not None:
            checks.append(
                _at_most(
                    f"{feature} demographic parity difference above the data's own",
                    result.demographic_parity_difference - data_dpd,
                    config.max_excess_over_data,
                    counts=judged,
                )
            )
        champion_dpd = result.champion_demographic_parity_difference
        champion_eod = result.champion_equalized_odds_difference
        if config.max_worse_than_champion is not None and champion_dpd is not None:
            for name, ours, theirs in (
                ("demographic parity", result.demographic_parity_difference, champion_dpd),
                ("equalized odds", result.equalized_odds_difference, champion_eod or 0.0),
            ):
                checks.append(
                    _at_most(
                        f"{feature} {name} difference above the champion's",
                        ours - theirs,
                        config.max_worse_than_champion,
                        counts=judged,
                    )
                )
    if not checks:
        return GateResult(
            gate="fairness", status="passed", summary="no sensitive features configured"
        )
    return _verdict("fairness", checks, "disparities within bounds for every sensitive feature")


def latency_gate(
    config: LatencyGateConfig, latency: LatencyResult | None, champion: ChampionInfo | None
) -> GateResult:
    """Absolute SLA, throughput floor, and maximum slowdown versus the champion."""
    if not config.enabled:
        return _skipped("latency")
    if latency is None:
        return GateResult(gate="latency", status="failed", summary="failed: latency not measured")
    checks = [
        _at_most("p95 single-row latency (ms)", latency.p95_ms, config.max_p95_ms),
        _at_most("p99 single-row latency (ms)", latency.p99_ms, config.max_p99_ms),
        _at_least(
            f"batch rows/s (batch {latency.batch_size})",
            latency.batch_rows_per_second,
            config.min_batch_rows_per_second,
        ),
    ]
    if champion is not None and champion.latency is not None:
        checks.append(
            _at_most(
                "p95 slowdown vs champion (x)",
                latency.p95_ms / max(champion.latency.p95_ms, 1e-9),
                config.max_slowdown_vs_champion,
            )
        )
    return _verdict("latency", checks, "within the latency SLA")


def golden_rows_gate(
    config: GoldenRowsGateConfig, rows: list[GoldenRowPrediction], has_champion: bool
) -> GateResult:
    """Canonical rows may not flip their predicted class versus the champion beyond max_flips."""
    if not config.enabled:
        return _skipped("golden_rows")
    if not has_champion:
        return GateResult(
            gate="golden_rows",
            status="no_champion",
            summary=f"no champion yet: {len(rows)} canonical rows predicted, nothing to compare",
        )
    flips = sum(r.flipped for r in rows)
    check = _at_most("flipped canonical rows", float(flips), float(config.max_flips))
    return _verdict("golden_rows", [check], f"{flips} of {len(rows)} canonical rows flipped")


def sanity_gate(
    config: SanityGateConfig, scores: ModelScores, training: dict[str, Any]
) -> GateResult:
    """The model trained: finite, non-exploding loss and predictions that are not constant."""
    if not config.enabled:
        return _skipped("sanity")
    checks = [
        _at_least(
            "probability standard deviation", scores.probability_std, config.min_probability_std
        ),
        Check(
            name="predicts both classes",
            observed=scores.positive_rate,
            threshold=None,
            comparison="==",
            passed=0.0 < scores.positive_rate < 1.0,
        ),
    ]
    epochs = training.get("epochs") or []
    losses = [float(e["train_loss"]) for e in epochs] + [float(e["val_loss"]) for e in epochs]
    if epochs:
        finite = all(math.isfinite(v) for v in losses)
        checks.append(
            Check(
                name="finite losses", observed=None, threshold=None, comparison="==", passed=finite
            )
        )
        if finite:
            ratio = float(epochs[-1]["train_loss"]) / max(float(epochs[0]["train_loss"]), 1e-12)
            checks.append(_at_most("last/first train loss", ratio, config.max_loss_ratio))
    return _verdict("sanity", checks, "finite, decreasing loss and a non-constant predictor")


def drift_gate(config: DriftConfig, drift: DriftReport | None) -> GateResult:
    """Drift of the training batch against the champion's profile: fails only with on_drift: block.

    With `warn` a drifted batch is reported as a warning on the gate and trains on; the data
    step has already stopped a blocked one before training, so this verdict is the record.
    """
    if not config.enabled:
        return _skipped("data_drift")
    if drift is None or not drift.compared:
        note = drift.note if drift is not None else "not checked"
        return GateResult(gate="data_drift", status="no_champion", summary=note)
    checks = [
        Check(
            name=f"psi:{f.feature}",
            observed=f.psi,
            threshold=(config.numeric if f.kind == "numeric" else config.categorical).max_psi,
            comparison="<=",
            passed=not f.drifted,
            margin=None,
            counts_for_verdict=config.on_drift == "block",
        )
        for f in drift.features
        if f.drifted is not None
    ]
    if not drift.drifted_features:
        return GateResult(
            gate="data_drift", status="passed", summary=drift.summary(), checks=checks
        )
    status: GateStatus = "failed" if config.on_drift == "block" else "warned"
    summary = drift.summary() + (" (on_drift: warn)" if status == "warned" else "")
    return GateResult(gate="data_drift", status=status, summary=summary, checks=checks)


def onnx_parity_gate(config: PackagingConfig, packaging: PackagingResult | None) -> GateResult:
    """The ONNX export answers like the pyfunc: probabilities within tolerance, same classes."""
    if not config.enabled:
        return _skipped("onnx_parity")
    if packaging is None:
        return GateResult(
            gate="onnx_parity",
            status="failed",
            summary="failed: the version has no ONNX export (registered without the package "
            "stage); retrain it, or set packaging.enabled: false and "
            "packaging.serving_runtime: pyfunc to serve pyfunc models",
        )
    if packaging.error is not None:
        return GateResult(gate="onnx_parity", status="failed", summary=f"failed: {packaging.error}")
    difference = packaging.max_abs_difference
    checks = [
        _at_most(
            "largest |pyfunc - onnx| probability",
            math.inf if difference is None else difference,
            packaging.tolerance,
        ),
        _at_most("rows with a different class", float(packaging.label_mismatches), 0.0),
    ]
    verdict = _verdict(
        "onnx_parity",
        checks,
        f"{packaging.rows_compared} golden rows: largest difference {difference:.2g}, "
        "identical classes",
    )
    if verdict.failed:
        where = []
        if packaging.worst_row is not None and not checks[0].passed:
            answers = packaging.worst_row_probabilities
            where.append(
                f"golden row {packaging.worst_row}: pyfunc {answers.get('pyfunc', math.nan):.6f}, "
                f"onnx {answers.get('onnx', math.nan):.6f}"
            )
        if packaging.first_mismatch_row is not None:
            where.append(f"first class mismatch at golden row {packaging.first_mismatch_row}")
        verdict = verdict.model_copy(update={"summary": f"{verdict.summary} ({'; '.join(where)})"})
    return verdict


def evaluate_gates(
    config: GatesConfig,
    scores: ModelScores,
    champion: ChampionInfo | None,
    fairness: list[FairnessResult],
    latency: LatencyResult | None,
    golden_rows: list[GoldenRowPrediction],
    training: dict[str, Any],
) -> list[GateResult]:
    """Every gate, in a fixed order, enabled or not."""
    return [
        sanity_gate(config.sanity, scores, training),
        threshold_gate(config.thresholds, scores),
        champion_gate(config.champion, scores, champion),
        fairness_gate(config.fairness, fairness),
        latency_gate(config.latency, latency, champion),
        golden_rows_gate(config.golden_rows, golden_rows, champion is not None),
    ]
