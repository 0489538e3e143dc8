"""Draft a config and a schema from a data file: the first step with a new dataset.

What can be read off the file is: column types, the set of categories, observed ranges (widened
by a margin, so the next batch is not refused for a value one step beyond the sample), missing
values, and a binary label. What cannot (which columns are sensitive, what counts as a good
model, what the model is for) is left for the user, and both files say so at the top: they are
drafts to review, not a contract inferred from data and accepted as is.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from mlcicd.errors import PipelineInputError
from mlcicd.paths import REPO_ROOT

MAX_CATEGORIES = 200  # more distinct texts than this is an identifier or free text, not a category
MARGIN = 0.1  # ranges widened by this share of the observed span on each side

DRAFT_NOTE = """DRAFT written by `python run.py init --data {data}` from {rows:,} rows.
Review every line before the first run; in particular:
{extra}"""


def read_sample(path: Path) -> pd.DataFrame:
    """The file as pandas reads it by default (a header row for CSV), every failure named."""
    if not path.is_file():
        raise PipelineInputError(f"data file not found: {path}")
    try:
        if path.suffix.lower() in {".parquet", ".pq"}:
            return pd.read_parquet(path)
        return pd.read_csv(path, skipinitialspace=True)
    except Exception as error:
        raise PipelineInputError(f"cannot read {path}: {type(error).__name__}: {error}") from None


def _category_values(column: pd.Series) -> list[str]:
    values = column.dropna().unique().tolist()
    texts = {str(int(v)) if isinstance(v, float) and v.is_integer() else str(v) for v in values}
    return sorted(texts, key=lambda t: (not _is_number(t), float(t) if _is_number(t) else 0, t))


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _widened(low: float, high: float, integral: bool) -> tuple[float, float]:
    span = high - low
    margin = span * MARGIN if span > 0 else max(abs(high) * MARGIN, 1.0)
    new_low, new_high = low - margin, high + margin
    if low >= 0:
        new_low = max(0.0, new_low)  # a non-negative quantity stays non-negative
    if integral:
        return float(math.floor(new_low)), float(math.ceil(new_high))
    return round(new_low, 6), round(new_high, 6)


def draft_column(name: str, column: pd.Series, is_label: bool) -> tuple[dict[str, Any], str]:
    """One schema entry and, when something needs a human, a note about it."""
    nullable = bool(column.isna().any())
    entry: dict[str, Any] = {"name": name}
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    if is_label or not numeric:
        values = _category_values(column)
        entry.update(dtype="categorical", values=values)
        note = ""
        if len(values) > MAX_CATEGORIES:
            note = (
                f"{name}: {len(values)} distinct values, an identifier or free text? add it to "
                "data.exclude_features, or group its values"
            )
    else:
        present = column.dropna()
        integral = bool(((present % 1) == 0).all()) if len(present) else True
        low, high = _widened(float(present.min()), float(present.max()), integral)
        entry.update(dtype="integer" if integral else "float", min=low, max=high)
        if integral:
            entry.update(min=int(low), max=int(high))
        note = ""
    if nullable:
        entry["nullable"] = True
    return entry, note


def _config_path(path: Path) -> str:
    """As a config names a file: relative to the repository root when inside it."""
    resolved = path.resolve()
    return (
        str(resolved.relative_to(REPO_ROOT))
        if resolved.is_relative_to(REPO_ROOT)
        else str(resolved)
    )


def draft_files(
    data: Path, label: str | None, name: str, schema_path: Path
) -> tuple[dict[str, Any], dict[str, Any], list[str], int]:
    """(config, schema, notes, rows) drafted from the data file; raises with the reason."""
    frame = read_sample(data)
    if frame.shape[1] < 2:
        raise PipelineInputError(
            f"{data} has {frame.shape[1]} column(s); need features and a label"
        )
    label = label or str(frame.columns[-1])
    if label not in frame.columns:
        raise PipelineInputError(
            f"--label {label!r} is not a column of {data}; "
            f"columns: {', '.join(map(str, frame.columns))}"
        )
    classes = frame[label].dropna().value_counts()
    if len(classes) != 2:
        raise PipelineInputError(
            f"label {label!r} has {len(classes)} distinct value(s), binary classification needs "
            f"exactly 2 (seen: {', '.join(map(str, classes.index[:10]))})"
        )
    columns, notes = [], []
    for column in frame.columns:
        entry, note = draft_column(str(column), frame[column], str(column) == label)
        columns.append(entry)
        if note:
            notes.append(note)
    positive = _category_values(frame[label].loc[frame[label] == classes.index[-1]])[0]
    notes.append(
        f"positive_class {positive!r} is the rarer label value ({int(classes.iloc[-1]):,} of "
        f"{int(classes.sum()):,} rows): change it if the other one is the event to predict"
    )
    notes.append("sensitive_features is empty: name the columns fairness is judged over")
    schema = {
        "name": name,
        "row_count": {"min": max(10, len(frame) // 10), "max": max(1000, len(frame) * 10)},
        "columns": columns,
    }
    fmt = "parquet" if data.suffix.lower() in {".parquet", ".pq"} else "csv"
    config = {
        "environment": "local",
        "stack": "local",
        "model_name": name,
        "seed": 42,
        "data": {
            "format": fmt,
            "train": {"path": _config_path(data)},
            "golden": {"split": {"fraction": 0.2, "seed": 0, "stratify": True}},
            **({"csv": {"header": True, "skip_initial_space": True}} if fmt == "csv" else {}),
            "schema": _config_path(schema_path),
            "label": label,
            "positive_class": positive,
            "sensitive_features": [],
        },
        # bars any model with signal meets: raise them once you know what this data allows
        "gates": {
            "thresholds": {"minimums": {"roc_auc": 0.6}, "maximums": {}},
            "golden_rows": {"enabled": False},
        },
    }
    return config, schema, notes, len(frame)


def write_drafts(
    data: Path, label: str | None, name: str, configs_dir: Path, force: bool = False
) -> tuple[Path, Path, list[str]]:
    """Write configs/NAME.yaml and configs/schemas/NAME.yaml; never overwrite without `force`."""
    config_path = configs_dir / f"{name}.yaml"
    schema_path = configs_dir / "schemas" / f"{name}.yaml"
    config, schema, notes, rows = draft_files(data, label, name, schema_path)
    existing = [p for p in (config_path, schema_path) if p.exists()]
    if existing and not force:
        raise PipelineInputError(
            f"{', '.join(map(str, existing))} already exist(s): pass --force to replace, or "
            "choose another --name"
        )
    header = DRAFT_NOTE.format(data=data, rows=rows, extra="\n".join(f"- {note}" for note in notes))
    comment = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    schema_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(comment + yaml.safe_dump(config, sort_keys=False))
    schema_path.write_text(comment + yaml.safe_dump(schema, sort_keys=False))
    return config_path, schema_path, notes
