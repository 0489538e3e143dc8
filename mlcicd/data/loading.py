"""Read the configured train and golden files into DataFrames, whatever the dataset.

File quirks (header-less CSV, banner lines, label spellings, missing-value markers) come from
the config, so the same code reads Adult or any other binary-classification table.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from inference.frames import with_object_strings
from mlcicd.config import DataConfig, DataFileConfig, DataSchema
from mlcicd.config.schema import category_text
from mlcicd.data.golden import split_golden
from mlcicd.errors import PipelineInputError

_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, streamed so large files do not load into memory."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def data_fingerprint(data: DataConfig) -> str:
    """One sha256 over the content of the train and golden files (plus the sampling choice)."""
    digest = hashlib.sha256()
    golden = data.golden_file
    for role, file_cfg in (("train", data.train), ("golden", golden)):
        if file_cfg is None:  # a split: the train file's content and the definition decide
            digest.update(f"golden:{data.golden_split}\n".encode())
            continue
        path = _existing_file(file_cfg, role)
        digest.update(f"{role}:{file_sha256(path)}\n".encode())
    digest.update(f"sample_rows:{data.sample_rows}\n".encode())
    return digest.hexdigest()


def _existing_file(file_cfg: DataFileConfig, role: str) -> Path:
    path = file_cfg.resolved()
    if not path.exists():
        raise PipelineInputError(f"{role} data file not found: {path}")
    if not path.is_file():
        raise PipelineInputError(f"{role} data path is not a file: {path}")
    return path


def read_table(
    file_cfg: DataFileConfig, data: DataConfig, schema: DataSchema, role: str
) -> pd.DataFrame:
    """Read one configured file; every failure becomes a PipelineInputError naming the file."""
    path = _existing_file(file_cfg, role)
    if path.stat().st_size == 0:
        raise PipelineInputError(f"{role} data file is empty: {path}")
    try:
        if data.format == "parquet":
            frame = pd.read_parquet(path)
            if file_cfg.skip_rows:
                frame = frame.iloc[file_cfg.skip_rows :].reset_index(drop=True)
        else:
            frame = pd.read_csv(
                path,
                # categories as the text the file holds, so codes (0/1 labels, levels 0-3)
                # meet the declared values; numbers are parsed only in numeric columns
                dtype=dict.fromkeys(_categorical(schema), str),
                sep=data.csv.separator,
                header=0 if data.csv.header else None,
                names=None if data.csv.header else schema.column_names,
                skiprows=file_cfg.skip_rows or None,
                skipinitialspace=data.csv.skip_initial_space,
                na_values=data.csv.na_values or None,
                keep_default_na=True,
                index_col=False,
            )
    except pd.errors.EmptyDataError:
        raise PipelineInputError(f"{role} data file is empty: {path}") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise PipelineInputError(f"cannot parse {role} data file {path}: {exc}") from None
    except PermissionError:
        raise PipelineInputError(
            f"{role} data file is not readable (permission denied): {path}"
        ) from None
    except OSError as exc:
        raise PipelineInputError(f"cannot read {role} data file {path}: {exc}") from None
    except Exception as exc:  # pyarrow raises its own types for corrupt Parquet
        raise PipelineInputError(f"cannot read {role} data file {path}: {exc}") from None
    if frame.shape[1] == 0:
        raise PipelineInputError(f"{role} data file has no columns: {path}")
    frame = _categories_as_text(with_object_strings(frame), schema)
    if data.label in frame.columns and data.label_aliases:
        frame[data.label] = frame[data.label].replace(data.label_aliases)
    return frame


def _categorical(schema: DataSchema) -> list[str]:
    return [c.name for c in schema.columns if c.dtype == "categorical"]


def _categories_as_text(frame: pd.DataFrame, schema: DataSchema) -> pd.DataFrame:
    """Categorical values written as numbers, as the text of the declared values they equal.

    A Parquet file keeps its types, so an integer-coded column becomes "0", "1", ... ; a CSV is
    read as text, where a code may read "1.0" (pandas writes integer columns holding a missing
    value as floats): a number whose canonical text (`category_text`) is declared becomes it.
    Anything else is left as it is, for the data gate to name.
    """
    converted = {}
    for spec in schema.columns:
        if spec.dtype != "categorical" or spec.name not in frame.columns:
            continue
        column = frame[spec.name]
        if pd.api.types.is_bool_dtype(column):
            continue
        if pd.api.types.is_numeric_dtype(column):
            texts = [
                None if pd.isna(v) else category_text(getattr(v, "item", lambda v=v: v)())
                for v in column.to_numpy(dtype=object)
            ]
            converted[spec.name] = pd.Series(texts, index=frame.index, dtype=object)
            continue
        declared = set(spec.values or [])
        mapping = {}
        for value in column.dropna().unique():  # each distinct value once, not every row
            if value in declared or not isinstance(value, str):
                continue
            try:
                text = category_text(float(value))
            except ValueError:
                continue
            if text in declared:
                mapping[value] = text
        if mapping:
            converted[spec.name] = column.replace(mapping)
    return frame.assign(**converted) if converted else frame


def load_datasets(
    data: DataConfig, schema: DataSchema, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and golden frames; the golden set is never sampled, so it stays comparable.

    With `data.golden.split` the golden rows come out of the train file (`mlcicd.data.golden`)
    and are never trained on; the sample, if any, is drawn from the rest.
    """
    train = read_table(data.train, data, schema, "train")
    if data.golden_split is not None:
        train, golden = split_golden(train, data.golden_split, data.label)
        _check_split(train, golden, data)
    else:
        golden = read_table(_golden_file(data), data, schema, "golden")
    if data.sample_rows is not None and len(train) > data.sample_rows:
        train = train.sample(n=data.sample_rows, random_state=seed).reset_index(drop=True)
    return train, golden


def read_golden(data: DataConfig, schema: DataSchema) -> pd.DataFrame:
    """The golden set alone (promotion, replay): its file, or its rows of the train file."""
    if data.golden_split is None:
        return read_table(_golden_file(data), data, schema, "golden")
    train = read_table(data.train, data, schema, "train")
    return split_golden(train, data.golden_split, data.label)[1]


def _golden_file(data: DataConfig) -> DataFileConfig:
    golden = data.golden_file
    if golden is None:  # the config model guarantees one of the two
        raise PipelineInputError("data.golden names neither a path nor a split")
    return golden


def _check_split(train: pd.DataFrame, golden: pd.DataFrame, data: DataConfig) -> None:
    """A split that leaves one side without rows, or the golden set one class, is no split."""
    split = data.golden_split
    if golden.empty or train.empty:
        raise PipelineInputError(
            f"data.golden.split (fraction {split.fraction if split else '?'}) leaves "
            f"{len(train)} training and {len(golden)} golden rows; the train file is too small "
            "for this fraction"
        )
    if golden[data.label].nunique() < 2:
        raise PipelineInputError(
            f"the golden split holds only the label value(s) "
            f"{sorted(map(str, golden[data.label].dropna().unique()))}: raise "
            "data.golden.split.fraction or set stratify: true"
        )


def feature_columns(data: DataConfig, schema: DataSchema) -> list[str]:
    """Model inputs: every declared column except the label and the excluded ones."""
    skip = {data.label, *data.exclude_features}
    return [c for c in schema.column_names if c not in skip]


def binary_target(frame: pd.DataFrame, data: DataConfig) -> pd.Series:
    """1 for the configured positive class, 0 otherwise."""
    return (frame[data.label] == data.positive_class).astype("int64")
