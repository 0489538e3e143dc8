"""The groups a sensitive feature is judged over: its values, bins of them, or merged categories.

Pure functions: the fairness gate, the report and the tests call the same ones, so the groups
the report shows are the groups the verdict was taken over.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from mlcicd.config import SensitiveGroups

MISSING_GROUP = "(missing)"
OUTSIDE_GROUP = "(outside the bins)"


def _edge(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def bin_labels(edges: list[float]) -> list[str]:
    """`[0, 25, 60]` -> ['0-25', '25-60']: right-open intervals, named by their edges."""
    return [f"{_edge(a)}-{_edge(b)}" for a, b in itertools.pairwise(edges)]


def group_labels(values: pd.Series, groups: SensitiveGroups | None) -> pd.Series:
    """One group name per row (text); missing values form their own group."""
    missing = values.isna()
    if groups is None:
        labels = values.astype(object).where(~missing, MISSING_GROUP).astype(str)
        return labels
    if groups.bins is not None:
        edges = list(groups.bins)
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
        index = np.searchsorted(np.asarray(edges), numbers, side="right") - 1
        names = np.asarray(bin_labels(edges), dtype=object)
        inside = (index >= 0) & (index < len(names)) & ~np.isnan(numbers)
        out = np.where(inside, names[np.clip(index, 0, len(names) - 1)], OUTSIDE_GROUP)
        out = np.where(missing.to_numpy(), MISSING_GROUP, out)
        return pd.Series(out, index=values.index, dtype=object).astype(str)
    renamed = {c: name for name, cs in (groups.merge or {}).items() for c in cs}
    text = values.astype(object).where(~missing, MISSING_GROUP).astype(str)
    return text.map(lambda v: renamed.get(v, v))


def describe_groups(groups: SensitiveGroups | None) -> str:
    """How the groups were formed, as the report shows it ('' for the feature's own values)."""
    if groups is None:
        return ""
    if groups.bins is not None:
        last = groups.bins[-1]
        bound = (
            ""
            if math.isinf(last)
            else f"; values outside [{_edge(groups.bins[0])}, {_edge(last)}) form '{OUTSIDE_GROUP}'"
        )
        return f"bins {', '.join(bin_labels(list(groups.bins)))} (right-open){bound}"
    merged = "; ".join(f"{name} = {' + '.join(cs)}" for name, cs in (groups.merge or {}).items())
    return f"merged: {merged}; other values as they are"
