"""The golden set as a split of the train file: which rows, and a fingerprint of them.

Each row gets a key, the sha256 of its values (every column, in name order, in a canonical text
form), and a position in [0, 1) from the key and the seed. A row is golden when its position is
below the fraction: the choice depends on nothing but the row, so the same rows are held out in
every run, rows appended to the file never move the old ones, and identical rows always land on
the same side (a duplicate can never be trained on and tested on). `stratify` cuts each label
class at its own quantile of the positions instead, for exact class proportions.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from mlcicd.config import GoldenSplit

_MISSING = "\x00"
_SEPARATOR = "\x1f"


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return _MISSING
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 39 and 39.0 (a column with a gap) are one value
    return str(value)


def row_keys(frame: pd.DataFrame) -> list[str]:
    """sha256 of each row's values, independent of column order and of int/float spelling."""
    columns = sorted(frame.columns)
    values = frame[columns].astype(object).to_numpy()
    return [hashlib.sha256(_SEPARATOR.join(map(_text, row)).encode()).hexdigest() for row in values]


def positions(keys: list[str], seed: int) -> np.ndarray:
    """Each key's place in [0, 1) under `seed` (uniform, independent of the file's order)."""
    salt = f"{seed}{_SEPARATOR}".encode()
    return np.asarray(
        [int(hashlib.sha256(salt + key.encode()).hexdigest()[:15], 16) / 16**15 for key in keys]
    )


def golden_mask(frame: pd.DataFrame, split: GoldenSplit, label: str) -> np.ndarray:
    """True for the rows of `frame` (the whole train file) that form the golden set."""
    place = positions(row_keys(frame), split.seed)
    if not split.stratify:
        return np.asarray(place < split.fraction)
    mask = np.zeros(len(frame), dtype=bool)
    classes = frame[label].astype(object).where(frame[label].notna(), _MISSING).to_numpy()
    for value in pd.unique(classes):
        members = classes == value
        wanted = round(split.fraction * int(members.sum()))
        if wanted == 0:
            continue
        cut = np.sort(place[members])[wanted - 1]  # ties (duplicates) stay on one side
        mask |= members & (place <= cut)
    return mask


def split_golden(
    frame: pd.DataFrame, split: GoldenSplit, label: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the rows left for training, the golden rows), each with a fresh index."""
    mask = golden_mask(frame, split, label)
    return frame[~mask].reset_index(drop=True), frame[mask].reset_index(drop=True)


def golden_fingerprint(golden: pd.DataFrame) -> str:
    """sha256 over the sorted row keys: equal for the same golden rows in any order."""
    return hashlib.sha256("\n".join(sorted(row_keys(golden))).encode()).hexdigest()
