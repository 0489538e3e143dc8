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
    for role, file_cfg in (("train", data.train), ("golden", data.golden)):
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
    frame = with_object_strings(frame)
    if data.label in frame.columns and data.label_aliases:
        frame[data.label] = frame[data.label].replace(data.label_aliases)
    return frame


def load_datasets(
    data: DataConfig, schema: DataSchema, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and golden frames; the golden set is never sampled, so it stays comparable."""
    train = read_table(data.train, data, schema, "train")
    golden = read_table(data.golden, data, schema, "golden")
    if data.sample_rows is not None and len(train) > data.sample_rows:
        train = train.sample(n=data.sample_rows, random_state=seed).reset_index(drop=True)
    return train, golden


def feature_columns(data: DataConfig, schema: DataSchema) -> list[str]:
    """Model inputs: every declared column except the label and the excluded ones."""
    skip = {data.label, *data.exclude_features}
    return [c for c in schema.column_names if c not in skip]


def binary_target(frame: pd.DataFrame, data: DataConfig) -> pd.Series:
    """1 for the configured positive class, 0 otherwise."""
    return (frame[data.label] == data.positive_class).astype("int64")
