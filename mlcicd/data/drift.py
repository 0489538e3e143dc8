"""Drift of counted data against a reference profile: per column, with the statistic that decides.

Numeric columns: PSI over the profile's quantile bins (missing values as one more bin) and a KS
test on its finer grid. Categorical columns: PSI, Jensen-Shannon distance and a chi-square test
over the declared values, undeclared values and missing (values rare in the reference judged as
one bin). The predicted probability: PSI over the
servers' tenths (sparse bins merged, as the rollout analysis does) and KS on hundredths.
Thresholds and their meaning: `mlcicd.config.monitoring`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from mlcicd.config import CategoricalDriftConfig, DriftConfig, NumericDriftConfig
from mlcicd.data.profile import (
    MISSING,
    OTHER,
    ColumnProfile,
    PredictionProfile,
    ProfileCounter,
    ReferenceProfile,
    bin_counts,
)
from mlcicd.reporting.drift import DriftReport, FeatureDrift
from mlcicd.statistics import (
    MIN_BIN_SHARE,
    binned_ks,
    chi_square_p_value,
    jensen_shannon_distance,
    merge_sparse_bins,
    population_stability_index,
)


def _shares(counts: Sequence[float]) -> list[float]:
    total = float(sum(counts))
    return [round(float(c) / total, 6) if total else 0.0 for c in counts]


def _edge_labels(edges: Sequence[float]) -> list[str]:
    if not edges:
        return ["all values"]
    shown = [f"{e:.4g}" for e in edges]
    labels = [f"≤ {shown[0]}"]
    labels += [f"({a}, {b}]" for a, b in itertools.pairwise(shown)]
    return [*labels, f"> {shown[-1]}"]


def _rate(part: float, whole: float) -> float:
    return round(part / whole, 6) if whole else 0.0


def _verdict(
    psi: float, max_psi: float, distance: float, max_distance: float, p: float, alpha: float,
    distance_label: str,
) -> tuple[bool, str]:  # fmt: skip
    if psi > max_psi:
        return True, f"PSI {psi:.3f} > {max_psi:g}"
    if distance > max_distance and p < alpha:
        return True, f"{distance_label} {distance:.3f} > {max_distance:g} (p={p:.2g} < {alpha:g})"
    return False, f"PSI {psi:.3f} ≤ {max_psi:g}, {distance_label} {distance:.3f}"


def numeric_drift(
    column: ColumnProfile,
    bins: np.ndarray,
    fine: np.ndarray,
    missing: int,
    config: NumericDriftConfig,
    min_rows: int,
) -> FeatureDrift:
    """One numeric column: its counted bins against the profile's."""
    ref = column.numeric
    if ref is None:
        raise ValueError(f"column '{column.name}' has no numeric profile")
    ref_bins = [*ref.counts, ref.missing]
    cur_bins = [*bins.tolist(), missing]
    current_rows = int(sum(cur_bins))
    result = FeatureDrift(
        feature=column.name,
        kind="numeric",
        reference_rows=ref.rows,
        current_rows=current_rows,
        reference_missing_rate=_rate(ref.missing, ref.rows),
        current_missing_rate=_rate(missing, current_rows),
        distance_name="ks_statistic",
        test_name="ks",
        bins=[*_edge_labels(ref.edges), MISSING],
        reference_shares=_shares(ref_bins),
        current_shares=_shares(cur_bins),
    )
    present = int(fine.sum())
    if present < min_rows or sum(ref.fine_counts) == 0:
        result.reason = f"{present} non-missing row(s), fewer than the {min_rows} needed to judge"
        return result
    psi = population_stability_index(ref_bins, cur_bins)
    statistic, p_value = binned_ks(ref.fine_counts, fine.tolist())
    drifted, reason = _verdict(
        psi, config.max_psi, statistic, config.max_ks_statistic, p_value, config.ks_p_value, "KS"
    )
    return result.model_copy(
        update={
            "psi": round(psi, 6),
            "distance": round(statistic, 6),
            "p_value": p_value,
            "drifted": drifted,
            "reason": reason,
        }
    )


def merge_rare_categories(
    expected: Sequence[float], actual: Sequence[float], min_share: float = MIN_BIN_SHARE
) -> tuple[list[float], list[float]]:
    """Values with less than `min_share` of the reference rows are judged as one "rare" bin.

    A country column has dozens of values under 1 %; a window of a few hundred rows sees each
    of them zero or one times, which makes the distance and the chi-square test cry drift on
    sampling noise alone. A surge of rare or undeclared values still moves the "rare" bin. The
    report keeps every value's share; only the statistics see the merged bins.
    """
    total = float(sum(expected))
    rare_e = rare_a = 0.0
    kept_e: list[float] = []
    kept_a: list[float] = []
    for e, a in zip(expected, actual, strict=True):
        if total > 0 and e / total >= min_share:
            kept_e.append(e)
            kept_a.append(a)
        else:
            rare_e, rare_a = rare_e + e, rare_a + a
    if rare_e or rare_a:
        kept_e.append(rare_e)
        kept_a.append(rare_a)
    return kept_e, kept_a


def categorical_drift(
    column: ColumnProfile,
    counts: np.ndarray,
    other: int,
    missing: int,
    config: CategoricalDriftConfig,
    min_rows: int,
) -> FeatureDrift:
    """One categorical column: declared values, undeclared and missing against the profile."""
    ref = column.categorical
    if ref is None:
        raise ValueError(f"column '{column.name}' has no categorical profile")
    ref_bins = [*ref.counts, ref.other, ref.missing]
    cur_bins = [*counts.tolist(), other, missing]
    current_rows = int(sum(cur_bins))
    result = FeatureDrift(
        feature=column.name,
        kind="categorical",
        reference_rows=ref.rows,
        current_rows=current_rows,
        reference_missing_rate=_rate(ref.missing, ref.rows),
        current_missing_rate=_rate(missing, current_rows),
        distance_name="jensen_shannon",
        test_name="chi2",
        bins=[*ref.values, OTHER, MISSING],
        reference_shares=_shares(ref_bins),
        current_shares=_shares(cur_bins),
    )
    if current_rows < min_rows:
        result.reason = f"{current_rows} row(s), fewer than the {min_rows} needed to judge"
        return result
    ref_judged, cur_judged = merge_rare_categories(ref_bins, cur_bins)
    psi = population_stability_index(ref_judged, cur_judged)
    distance = jensen_shannon_distance(ref_judged, cur_judged)
    p_value = chi_square_p_value(ref_judged, cur_judged)
    drifted, reason = _verdict(
        psi,
        config.max_psi,
        distance,
        config.max_jensen_shannon,
        p_value,
        config.chi2_p_value,
        "Jensen-Shannon",
    )
    return result.model_copy(
        update={
            "psi": round(psi, 6),
            "distance": round(distance, 6),
            "p_value": p_value,
            "drifted": drifted,
            "reason": reason,
        }
    )


def column_drift(
    counter: ProfileCounter, name: str, config: DriftConfig, min_rows: int | None = None
) -> FeatureDrift:
    """The drift of one counted column, with the thresholds of its kind."""
    column = counter.profile.column(name)
    if column is None:
        raise KeyError(f"column '{name}' is not in the reference profile")
    bins, fine, other, missing = counter.counts(name)
    rows = config.min_rows if min_rows is None else min_rows
    if fine is not None:
        return numeric_drift(column, bins, fine, missing, config.numeric, rows)
    return categorical_drift(column, bins, other, missing, config.categorical, rows)


class PredictionCounter:
    """Counts predicted probabilities into the profile's tenths and hundredths."""

    def __init__(self, profile: PredictionProfile) -> None:
        self.profile = profile
        self.bins = np.zeros(len(profile.edges) + 1, dtype=np.int64)
        self.fine = np.zeros(len(profile.fine_edges) + 1, dtype=np.int64)

    def add(self, probabilities: np.ndarray) -> None:
        """Count one chunk of probabilities (non-finite values are ignored)."""
        values = probabilities[np.isfinite(probabilities)]
        self.bins += bin_counts(values, self.profile.edges)
        self.fine += bin_counts(values, self.profile.fine_edges)


def prediction_drift(counter: PredictionCounter, max_psi: float, min_rows: int) -> FeatureDrift:
    """Predicted probabilities against the golden set's: PSI decides, KS is reported."""
    ref = counter.profile
    rows = int(counter.bins.sum())
    result = FeatureDrift(
        feature="predicted probability",
        kind="prediction",
        reference_rows=ref.rows,
        current_rows=rows,
        bins=_edge_labels(ref.edges),
        reference_shares=_shares(ref.counts),
        current_shares=_shares(counter.bins.tolist()),
    )
    if rows < min_rows or ref.rows == 0:
        result.reason = f"{rows} predicted row(s), fewer than the {min_rows} needed to judge"
        return result
    merged_ref, merged_cur = merge_sparse_bins(ref.counts, counter.bins.tolist())
    psi = population_stability_index(merged_ref, merged_cur)
    statistic, p_value = binned_ks(ref.fine_counts, counter.fine.tolist())
    drifted = psi > max_psi
    reason = f"PSI {psi:.3f} {'>' if drifted else '≤'} {max_psi:g}, KS {statistic:.3f}"
    return result.model_copy(
        update={
            "psi": round(psi, 6),
            "distance": round(statistic, 6),
            "p_value": p_value,
            "drifted": drifted,
            "reason": reason,
        }
    )


def batch_drift(
    profile: ReferenceProfile,
    batches: Iterable[pd.DataFrame],
    config: DriftConfig,
    reference_version: str,
    columns: Sequence[str] | None = None,
) -> DriftReport:
    """A training batch (in one or more chunks) against the champion's profile, every column."""
    names = [c.name for c in profile.columns] if columns is None else list(columns)
    counter = ProfileCounter(profile, names)
    for chunk in batches:
        counter.add(chunk)
    return DriftReport(
        reference_version=reference_version,
        reference_rows=profile.rows,
        current_rows=counter.rows,
        on_drift=config.on_drift,
        features=[column_drift(counter, name, config) for name in counter.columns],
    )
