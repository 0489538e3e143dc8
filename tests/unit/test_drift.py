"""Drift statistics, reference profiles and the drift check on the real Adult data (no servers)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency, ks_2samp
from sklearn.metrics import roc_auc_score

from mlcicd.config import DataSchema, DriftConfig, load_config
from mlcicd.data.drift import batch_drift
from mlcicd.data.profile import (
    ProfileCounter,
    ReferenceProfile,
    build_profile,
    load_profile,
    quantile_edges,
)
from mlcicd.evaluation.drift import drift_rejection
from mlcicd.evaluation.gates import drift_gate
from mlcicd.reporting.drift import DriftReport
from mlcicd.statistics import (
    binned_ks,
    binned_roc_auc,
    chi_square_p_value,
    histogram_quantile_counts,
    jensen_shannon_distance,
    population_stability_index,
)


@pytest.fixture(scope="module")
def adult(adult_frames: tuple[pd.DataFrame, pd.DataFrame]) -> tuple[pd.DataFrame, DataSchema]:
    _, schema = load_config("local")
    return adult_frames[0], schema


@pytest.fixture(scope="module")
def profile(adult: tuple[pd.DataFrame, DataSchema]) -> ReferenceProfile:
    train, schema = adult
    return build_profile(
        train, schema, model_name="m", label="income", data_fingerprint="fp",
        golden_probabilities=np.linspace(0, 1, 101), golden_metrics={"roc_auc": 0.9},
    )  # fmt: skip


def _drift(profile: ReferenceProfile, frame: pd.DataFrame, **config: object) -> DriftReport:
    return batch_drift(profile, [frame], DriftConfig(**config), "3")


def test_psi_is_zero_for_equal_shares_and_grows_with_the_shift() -> None:
    assert population_stability_index([10, 20, 30], [20, 40, 60]) == pytest.approx(0.0)
    small = population_stability_index([50, 50], [55, 45])
    large = population_stability_index([50, 50], [90, 10])
    assert 0 < small < 0.05 < 0.2 < large
    with pytest.raises(ValueError, match="same bins"):
        population_stability_index([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="at least one observation"):
        population_stability_index([0, 0], [1, 2])


def test_binned_ks_matches_scipy_on_fine_bins() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 4000), rng.normal(0.15, 1, 3000)
    edges = np.quantile(np.concatenate([a, b]), np.linspace(0.005, 0.995, 199))
    count = lambda x: np.bincount(np.searchsorted(edges, x), minlength=len(edges) + 1)  # noqa: E731
    statistic, p_value = binned_ks(count(a), count(b))
    exact = ks_2samp(a, b)
    assert statistic == pytest.approx(exact.statistic, abs=0.01)
    assert statistic <= exact.statistic + 1e-12
    assert p_value < 0.01 and exact.pvalue < 0.01
    assert binned_ks([5, 5], [10, 10]) == (0.0, 1.0)


def test_chi_square_and_jensen_shannon_agree_with_their_definitions() -> None:
    expected, actual = [30, 50, 20], [45, 40, 15]
    assert chi_square_p_value(expected, actual) == pytest.approx(
        chi2_contingency(np.array([expected, actual]), correction=False).pvalue
    )
    assert chi_square_p_value([10, 0, 5], [20, 0, 10]) == pytest.approx(1.0)
    assert jensen_shannon_distance([1, 1], [1, 1]) == pytest.approx(0.0)
    assert jensen_shannon_distance([1, 0], [0, 1]) == pytest.approx(1.0)


def test_binned_auc_and_quantile_match_the_exact_values() -> None:
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 5000)
    scores = np.clip(rng.normal(0.4 + 0.2 * labels, 0.2), 0, 1)
    index = np.minimum((scores * 1000).astype(int), 999)
    positive = np.bincount(index[labels == 1], minlength=1000)
    negative = np.bincount(index[labels == 0], minlength=1000)
    assert binned_roc_auc(positive, negative) == pytest.approx(
        roc_auc_score(labels, scores), abs=0.002
    )
    assert math.isnan(binned_roc_auc([0, 0], [1, 1]))
    latencies = rng.exponential(20, 20000)
    edges = np.geomspace(0.05, 120000, 380)
    counts = np.bincount(np.searchsorted(edges, latencies, side="right"), minlength=381)
    p99 = histogram_quantile_counts(edges.tolist(), counts.tolist(), 0.99)
    assert p99 == pytest.approx(np.quantile(latencies, 0.99), rel=0.04)
    assert math.isnan(histogram_quantile_counts([1.0, 2.0], [0, 0, 0], 0.5))


def test_point_masses_get_their_own_edges_and_the_rest_keeps_resolution() -> None:
    values = np.concatenate([np.zeros(900), np.arange(1, 101, dtype=float) * 100])
    edges = quantile_edges(values, 10)
    assert 0.0 in edges and len([e for e in edges if e > 0]) >= 8


def test_profile_round_trips_and_is_hashed(
    adult: tuple[pd.DataFrame, DataSchema], profile: ReferenceProfile
) -> None:
    text = profile.canonical_json()
    again = load_profile(text)
    assert again == profile and again.sha256() == profile.sha256()
    sex = again.column("sex")
    assert sex is not None and sex.categorical is not None
    assert sum(sex.categorical.counts) == len(adult[0])
    assert again.prediction is not None and again.prediction.rows == 101
    with pytest.raises(ValueError, match="schema_version"):
        load_profile(text.replace('"schema_version": 1', '"schema_version": 9'))


def test_a_random_half_of_the_training_file_is_not_drift(
    adult: tuple[pd.DataFrame, DataSchema], profile: ReferenceProfile
) -> None:
    for seed in (1, 2, 3):
        report = _drift(profile, adult[0].sample(frac=0.5, random_state=seed))
        assert report.compared and not report.drifted_features, report.summary()
    for seed in range(8):  # the smallest batch the default min_rows judges
        small = _drift(profile, adult[0].sample(n=500, random_state=seed))
        assert all(f.drifted is False for f in small.features), small.summary()


def test_one_sex_only_and_a_shifted_numeric_column_are_named(
    adult: tuple[pd.DataFrame, DataSchema], profile: ReferenceProfile
) -> None:
    train = adult[0]
    one_sex = _drift(profile, train[train["sex"] == "Male"])
    assert "sex" in {f.feature for f in one_sex.drifted_features}
    shifted = train.assign(**{"capital-gain": (train["capital-gain"] * 10).clip(upper=99999)})
    report = _drift(profile, shifted)
    assert [f.feature for f in report.drifted_features] == ["capital-gain"]
    [gain] = report.drifted_features
    assert gain.psi is not None and gain.psi > 0.2 and "PSI" in gain.reason
    assert "capital-gain" in report.summary()


def test_block_stops_with_a_message_naming_each_column_and_warn_only_reports(
    adult: tuple[pd.DataFrame, DataSchema], profile: ReferenceProfile
) -> None:
    train = adult[0]
    older = train.assign(age=(train["age"] + 12).clip(upper=100))
    blocked = _drift(profile, older, on_drift="block")
    message = drift_rejection(blocked)
    assert message is not None
    assert "age: PSI" in message and "champion v3" in message and "drift.on_drift" in message
    gate = drift_gate(DriftConfig(on_drift="block"), blocked)
    assert gate.status == "failed" and "age" in gate.summary
    warned = _drift(profile, older, on_drift="warn")
    assert drift_rejection(warned) is None
    assert drift_gate(DriftConfig(on_drift="warn"), warned).status == "warned"
    assert drift_gate(DriftConfig(), DriftReport(note="no champion yet")).status == "no_champion"
    assert drift_gate(DriftConfig(enabled=False), warned).status == "skipped"


def test_missing_values_and_undeclared_categories_count_as_their_own_bins(
    adult: tuple[pd.DataFrame, DataSchema], profile: ReferenceProfile
) -> None:
    train = adult[0].head(3000).copy()
    train.loc[train.index[:1500], "hours-per-week"] = np.nan
    train.loc[train.index[:1500], "race"] = "Martian"
    report = _drift(profile, train)
    by_name = {f.feature: f for f in report.features}
    assert (
        by_name["hours-per-week"].drifted and by_name["hours-per-week"].current_missing_rate == 0.5
    )
    assert by_name["race"].drifted
    assert by_name["race"].current_shares[by_name["race"].bins.index("<other>")] == 0.5


def test_the_counter_streams_chunks_to_the_same_counts(
    adult: tuple[pd.DataFrame, DataSchema], profile: ReferenceProfile
) -> None:
    train = adult[0]
    whole = ProfileCounter(profile, ["age", "sex"])
    whole.add(train)
    chunked = ProfileCounter(profile, ["age", "sex"])
    for start in range(0, len(train), 7000):
        chunked.add(train.iloc[start : start + 7000])
    for name in ("age", "sex"):
        a, b = whole.counts(name), chunked.counts(name)
        assert np.array_equal(a[0], b[0]) and a[2:] == b[2:]
        assert (a[1] is None and b[1] is None) or np.array_equal(a[1], b[1])  # type: ignore[arg-type]
