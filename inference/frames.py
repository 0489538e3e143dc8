"""DataFrame normalisation shared by training, validation and serving."""

from __future__ import annotations

import pandas as pd


def with_object_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a frame whose string columns are plain object columns (missing values as None).

    pandas 3 reads text as its `str` dtype, which Great Expectations 1.24 does not recognise and
    which round-trips through Parquet artifacts; one normal form keeps every consumer consistent.
    """
    converted = {
        name: frame[name].astype(object).where(frame[name].notna(), None)
        for name in frame.columns
        if pd.api.types.is_string_dtype(frame[name].dtype) and frame[name].dtype != object
    }
    if not converted:
        return frame
    return frame.assign(**converted)
