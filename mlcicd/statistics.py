"""Distribution comparisons over binned counts: the one home of PSI, KS, Jensen-Shannon, chi-square.

Everything compares two histograms over the same bins, never two raw samples: a reference
profile keeps only counts, and the production monitor streams millions of rows into counts, so
the same statistic (and the same threshold) means the same thing before training, during a
rollout and in production. scipy supplies the chi-square and Kolmogorov distributions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

# histogram counts: a list or a numpy array, aligned bin for bin with the other side
Counts = Sequence[float] | np.ndarray

PSI_EPSILON = 1e-4  # an empty bin on one side would make the PSI infinite
MIN_BIN_SHARE = 0.05  # bins with less baseline mass are merged with their neighbours


def _totals(expected: Counts, actual: Counts, what: str) -> tuple[float, float]:
    if len(expected) != len(actual):
        raise ValueError(f"{what} needs the same bins, got {len(expected)} and {len(actual)}")
    total_e, total_a = float(sum(expected)), float(sum(actual))
    if total_e <= 0 or total_a <= 0:
        raise ValueError(f"{what} needs at least one observation on each side")
    return total_e, total_a


def population_stability_index(expected: Counts, actual: Counts) -> float:
    """PSI of two histograms over the same bins: sum of (a - e) * ln(a / e) of the shares."""
    total_e, total_a = _totals(expected, actual, "PSI")
    psi = 0.0
    for e, a in zip(expected, actual, strict=True):
        share_e = max(e / total_e, PSI_EPSILON)
        share_a = max(a / total_a, PSI_EPSILON)
        psi += (share_a - share_e) * math.log(share_a / share_e)
    return psi


def merge_sparse_bins(
    expected: Counts, actual: Counts, min_share: float = MIN_BIN_SHARE
) -> tuple[list[float], list[float]]:
    """Merge neighbouring bins until each holds `min_share` of the baseline's rows.

    A classifier's probabilities crowd into a few of the ten fixed bins; near-empty bins make
    the PSI of two equal models large by sampling noise alone. Merging keeps the fixed bins'
    meaning while each merged bin carries enough baseline mass to compare.
    """
    total = float(sum(expected))
    merged_e: list[float] = []
    merged_a: list[float] = []
    run_e = run_a = 0.0
    for e, a in zip(expected, actual, strict=True):
        run_e, run_a = run_e + e, run_a + a
        if total > 0 and run_e / total >= min_share:
            merged_e.append(run_e)
            merged_a.append(run_a)
            run_e = run_a = 0.0
    if run_e or run_a:
        if merged_e:
            merged_e[-1] += run_e
            merged_a[-1] += run_a
        else:
            merged_e, merged_a = [run_e], [run_a]
    return merged_e, merged_a


def binned_ks(expected: Counts, actual: Counts) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and asymptotic p-value over ordered bins.

    The statistic is the largest gap between the two empirical CDFs at the bin edges, so it is
    at most the exact KS statistic and converges to it as the bins get finer (the profiles keep
    fine quantile bins for this). The p-value uses the Kolmogorov distribution with the
    effective sample size n*m/(n+m).
    """
    from scipy.special import kolmogorov

    total_e, total_a = _totals(expected, actual, "KS")
    cdf_e = np.cumsum(np.asarray(expected, dtype=float)) / total_e
    cdf_a = np.cumsum(np.asarray(actual, dtype=float)) / total_a
    statistic = float(np.max(np.abs(cdf_e - cdf_a)))
    effective = math.sqrt(total_e * total_a / (total_e + total_a))
    return statistic, float(kolmogorov(effective * statistic)) if statistic > 0 else 1.0


def jensen_shannon_distance(expected: Counts, actual: Counts) -> float:
    """Jensen-Shannon distance (base 2, so within [0, 1]) of two histograms' shares."""
    from scipy.spatial.distance import jensenshannon

    total_e, total_a = _totals(expected, actual, "Jensen-Shannon")
    shares_e = np.asarray(expected, dtype=float) / total_e
    shares_a = np.asarray(actual, dtype=float) / total_a
    return float(jensenshannon(shares_e, shares_a, base=2.0))


def chi_square_p_value(expected: Counts, actual: Counts) -> float:
    """p-value of the chi-square test that both histograms come from one distribution.

    A contingency test of the two count rows; bins empty on both sides carry no information
    and are dropped (scipy refuses zero expected frequencies).
    """
    from scipy.stats import chi2_contingency

    _totals(expected, actual, "chi-square")
    table = np.asarray([expected, actual], dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 1.0
    result = chi2_contingency(table, correction=False)
    return float(result.pvalue)


def binned_roc_auc(positive: Counts, negative: Counts) -> float:
    """ROC AUC from histograms of the positives' and negatives' scores over the same bins.

    Pairs in the same bin count as ties (one half), so with fine bins (the monitor uses 1000 on
    [0, 1]) this matches the exact AUC to about the bin width while using constant memory.
    """
    pos = np.asarray(positive, dtype=float)
    neg = np.asarray(negative, dtype=float)
    if len(pos) != len(neg):
        raise ValueError(f"AUC needs the same bins, got {len(pos)} and {len(neg)}")
    n_pos, n_neg = float(pos.sum()), float(neg.sum())
    if n_pos <= 0 or n_neg <= 0:
        return math.nan
    negatives_below = np.concatenate(([0.0], np.cumsum(neg)[:-1]))
    wins = float(np.sum(pos * negatives_below) + 0.5 * np.sum(pos * neg))
    return wins / (n_pos * n_neg)


def histogram_quantile_counts(edges: Sequence[float], counts: Counts, q: float) -> float:
    """The q-quantile from counts over [edges[i], edges[i+1]) bins, linear inside a bin.

    `counts` has len(edges) + 1 entries: below the first edge, each bin, above the last edge
    (those two report the edge itself). NaN without observations.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be within [0, 1], got {q}")
    values = np.asarray(counts, dtype=float)
    if len(values) != len(edges) + 1:
        raise ValueError(f"{len(edges)} edges need {len(edges) + 1} counts, got {len(values)}")
    total = float(values.sum())
    if total <= 0:
        return math.nan
    rank = q * total
    cumulative = np.cumsum(values)
    index = int(np.searchsorted(cumulative, rank, side="left"))
    if index == 0:
        return float(edges[0])
    if index >= len(edges):
        return float(edges[-1])
    below = cumulative[index - 1]
    inside = values[index]
    start, end = float(edges[index - 1]), float(edges[index])
    if inside <= 0:
        return end
    return start + (end - start) * ((rank - below) / inside)
