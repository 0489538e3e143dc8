"""The reference profile of a registered version, and counting any later data into its bins.

At registration the training data is summarised per column (numeric: quantile bins, a finer
grid for the KS test, missing rate, range, mean; categorical: the frequency of every declared
value, of anything else, and of missing) together with the golden-set predicted probabilities.
Every later comparison (a new training batch, a window of production traffic) counts its rows
into exactly these bins, chunk by chunk, so nothing needs the original data or much memory.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from mlcicd.config import DataSchema

PROFILE_SCHEMA_VERSION = 1
PSI_BINS = 10
KS_BINS = 50
# Predicted probabilities: the model servers' Prometheus buckets (tenths) and a finer KS grid.
PROBABILITY_EDGES: tuple[float, ...] = tuple(round(k / 10, 1) for k in range(1, 10))
PROBABILITY_FINE_EDGES: tuple[float, ...] = tuple(round(k / 100, 2) for k in range(1, 100))
OTHER = "<other>"
MISSING = "<missing>"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NumericProfile(_Model):
    """Bins are (-inf, e0], (e0, e1], ..., (e_last, inf); missing values are counted apart."""

    edges: list[float]
    counts: list[int]
    fine_edges: list[float]
    fine_counts: list[int]
    missing: int
    rows: int
    min: float | None
    max: float | None
    mean: float | None
    std: float | None


class CategoricalProfile(_Model):
    """Counts of each declared value, then of undeclared values (`<other>`); missing apart."""

    values: list[str]
    counts: list[int]
    other: int
    missing: int
    rows: int


class ColumnProfile(_Model):
    """One column's reference distribution."""

    name: str
    kind: Literal["numeric", "categorical"]
    numeric: NumericProfile | None = None
    categorical: CategoricalProfile | None = None

    @property
    def rows(self) -> int:
        """Rows counted, missing included."""
        part = self.numeric or self.categorical
        return part.rows if part is not None else 0


class PredictionProfile(_Model):
    """The positive-class probabilities the version gave on the golden set."""

    edges: list[float] = Field(default_factory=lambda: list(PROBABILITY_EDGES))
    counts: list[int]
    fine_edges: list[float] = Field(default_factory=lambda: list(PROBABILITY_FINE_EDGES))
    fine_counts: list[int]
    rows: int
    positive_rate: float


class ReferenceProfile(_Model):
    """Everything later data is compared with: training columns, golden predictions, metrics."""

    schema_version: int = PROFILE_SCHEMA_VERSION
    model_name: str
    label: str
    data_fingerprint: str
    rows: int
    created_at: str
    columns: list[ColumnProfile]
    prediction: PredictionProfile | None = None
    golden_metrics: dict[str, float] = Field(default_factory=dict)

    def column(self, name: str) -> ColumnProfile | None:
        """The profile of one column, or None when it was not profiled."""
        return next((c for c in self.columns if c.name == name), None)

    def canonical_json(self) -> str:
        """Sorted-key JSON: what is stored and hashed."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, allow_nan=False)

    def sha256(self) -> str:
        """sha256 of the canonical JSON, tagged on the registered version."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


def _finite(values: pd.Series) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return numbers[np.isfinite(numbers)]


def quantile_edges(values: np.ndarray, bins: int) -> list[float]:
    """Unique quantile edges; point masses get extra edges from the values off them.

    A column that is 0 for 90 % of rows (a capital gain) has all deciles at 0, which would
    leave one bin for every non-zero value and hide any shift among them; the quantiles of the
    remaining values give that part of the distribution its own resolution.
    """
    if values.size == 0:
        return []
    probabilities = np.arange(1, bins) / bins
    edges = set(np.quantile(values, probabilities).tolist())
    distinct, counts = np.unique(values, return_counts=True)
    masses = distinct[counts > values.size / bins]
    if masses.size:
        rest = values[~np.isin(values, masses)]
        if rest.size >= bins:
            edges |= set(np.quantile(rest, probabilities).tolist())
        edges |= set(masses.tolist())
    return sorted(float(e) for e in edges if math.isfinite(e))


def bin_counts(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Counts per (-inf, e0], (e0, e1], ..., (e_last, inf) bin."""
    index = np.searchsorted(np.asarray(edges, dtype=float), values, side="left")
    return np.bincount(index, minlength=len(edges) + 1)


def _numeric_profile(values: pd.Series) -> NumericProfile:
    finite = _finite(values)
    edges = quantile_edges(finite, PSI_BINS)
    fine = quantile_edges(finite, KS_BINS)
    has = finite.size > 0
    return NumericProfile(
        edges=edges,
        counts=bin_counts(finite, edges).tolist(),
        fine_edges=fine,
        fine_counts=bin_counts(finite, fine).tolist(),
        missing=int(len(values) - finite.size),
        rows=len(values),
        min=float(finite.min()) if has else None,
        max=float(finite.max()) if has else None,
        mean=float(finite.mean()) if has else None,
        std=float(finite.std()) if has else None,
    )


def categorical_counts(values: pd.Series, declared: Sequence[str]) -> tuple[np.ndarray, int, int]:
    """Counts per declared value, of undeclared values, and of missing values."""
    missing = values.isna().to_numpy()
    codes = pd.Categorical(values, categories=list(declared)).codes
    counts = np.bincount(codes[codes >= 0], minlength=len(declared)).astype(np.int64)
    return counts, int(((codes < 0) & ~missing).sum()), int(missing.sum())


def _categorical_profile(values: pd.Series, declared: Sequence[str]) -> CategoricalProfile:
    counts, other, missing = categorical_counts(values, declared)
    return CategoricalProfile(
        values=list(declared),
        counts=counts.tolist(),
        other=other,
        missing=missing,
        rows=len(values),
    )


def prediction_profile(probabilities: Iterable[float], threshold: float = 0.5) -> PredictionProfile:
    """Histogram of the golden-set probabilities in the servers' tenths and a fine grid."""
    values = np.asarray(list(probabilities), dtype=float)
    values = values[np.isfinite(values)]
    return PredictionProfile(
        counts=bin_counts(values, PROBABILITY_EDGES).tolist(),
        fine_counts=bin_counts(values, PROBABILITY_FINE_EDGES).tolist(),
        rows=int(values.size),
        positive_rate=float((values >= threshold).mean()) if values.size else 0.0,
    )


def build_profile(
    frame: pd.DataFrame,
    schema: DataSchema,
    *,
    model_name: str,
    label: str,
    data_fingerprint: str,
    golden_probabilities: Iterable[float] | None = None,
    golden_metrics: Mapping[str, float] | None = None,
    threshold: float = 0.5,
) -> ReferenceProfile:
    """Profile every declared column present in `frame` (the label included)."""
    columns = []
    for spec in schema.columns:
        if spec.name not in frame.columns:
            continue
        if spec.dtype == "categorical":
            columns.append(
                ColumnProfile(
                    name=spec.name,
                    kind="categorical",
                    categorical=_categorical_profile(frame[spec.name], spec.values or []),
                )
            )
        else:
            columns.append(
                ColumnProfile(
                    name=spec.name, kind="numeric", numeric=_numeric_profile(frame[spec.name])
                )
            )
    return ReferenceProfile(
        model_name=model_name,
        label=label,
        data_fingerprint=data_fingerprint,
        rows=len(frame),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        columns=columns,
        prediction=(
            prediction_profile(golden_probabilities, threshold)
            if golden_probabilities is not None
            else None
        ),
        golden_metrics={k: float(v) for k, v in (golden_metrics or {}).items()},
    )


def load_profile(text: str) -> ReferenceProfile:
    """Parse a stored profile; a newer or broken file is a ValueError naming the problem."""
    raw: Any = json.loads(text)
    if not isinstance(raw, dict):
        raise ValueError("a reference profile must be a JSON object")
    version = raw.get("schema_version")
    if version != PROFILE_SCHEMA_VERSION:
        raise ValueError(
            f"reference profile schema_version {version!r} is not the supported "
            f"{PROFILE_SCHEMA_VERSION}"
        )
    return ReferenceProfile.model_validate(raw)


class ProfileCounter:
    """Counts rows into a reference profile's bins, one chunk at a time (bounded memory)."""

    def __init__(self, profile: ReferenceProfile, columns: Iterable[str]) -> None:
        self.profile = profile
        self.columns = [c for c in columns if profile.column(c) is not None]
        self.rows = 0
        self._bins: dict[str, np.ndarray] = {}
        self._fine: dict[str, np.ndarray] = {}
        self._missing: dict[str, int] = {}
        self._other: dict[str, int] = {}
        self._profiles = {name: profile.column(name) for name in self.columns}
        for name, column in self._profiles.items():
            if column is None:
                continue
            if column.numeric is not None:
                self._bins[name] = np.zeros(len(column.numeric.edges) + 1, dtype=np.int64)
                self._fine[name] = np.zeros(len(column.numeric.fine_edges) + 1, dtype=np.int64)
            elif column.categorical is not None:
                self._bins[name] = np.zeros(len(column.categorical.values), dtype=np.int64)
                self._other[name] = 0
            self._missing[name] = 0

    def add(self, frame: pd.DataFrame) -> None:
        """Count one chunk; a column absent from the chunk counts as missing there."""
        self.rows += len(frame)
        for name, column in self._profiles.items():
            if column is None:
                continue
            if name not in frame.columns:
                self._missing[name] += len(frame)
                continue
            values = frame[name]
            if column.numeric is not None:
                finite = _finite(values)
                self._bins[name] += bin_counts(finite, column.numeric.edges)
                self._fine[name] += bin_counts(finite, column.numeric.fine_edges)
                self._missing[name] += int(len(values) - finite.size)
            elif column.categorical is not None:
                counts, other, missing = categorical_counts(values, column.categorical.values)
                self._bins[name] += counts
                self._other[name] += other
                self._missing[name] += missing

    def counts(self, name: str) -> tuple[np.ndarray, np.ndarray | None, int, int]:
        """(bins, fine bins or None, undeclared values, missing) counted so far for a column."""
        return (
            self._bins[name],
            self._fine.get(name),
            self._other.get(name, 0),
            self._missing[name],
        )
