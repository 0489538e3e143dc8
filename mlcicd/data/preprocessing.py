"""Train/validation split and the preprocessing that is fitted once and reused at serving."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from inference.frames import with_object_strings
from mlcicd.config import DataConfig, DataSchema
from mlcicd.data.loading import binary_target, feature_columns
from mlcicd.errors import PipelineInputError

MISSING_CATEGORY = "__missing__"


def split_train_validation(
    frame: pd.DataFrame, data: DataConfig, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified split of the training file; the golden set is never touched here."""
    target = binary_target(frame, data)
    if target.nunique() < 2:
        raise PipelineInputError(f"label '{data.label}' has a single class; cannot split")
    if int(target.value_counts().min()) < 2:
        raise PipelineInputError(
            f"label '{data.label}' has fewer than 2 rows in one class; cannot stratify"
        )
    train, validation = train_test_split(
        frame, test_size=data.validation_fraction, random_state=seed, stratify=target
    )
    return train.reset_index(drop=True), validation.reset_index(drop=True)


def build_preprocessor(data: DataConfig, schema: DataSchema) -> Pipeline:
    """Normalise string columns, impute, scale numbers, one-hot the declared categories.

    Declared categories (not the ones seen in a sample) keep the feature layout stable across
    retrains and samples; an unseen category at serving encodes as all zeros. The string
    normalisation is part of the fitted object because pandas' `str` columns (what Parquet
    artifacts give back) carry NaN where object columns carry None, and the imputer must see one
    missing-value marker whichever way the frame arrived.
    """
    numeric, categorical, categories = [], [], []
    for name in feature_columns(data, schema):
        spec = schema.column(name)
        if spec.dtype == "categorical":
            categorical.append(name)
            categories.append([*(spec.values or []), MISSING_CATEGORY])
        else:
            numeric.append(name)
    numeric_pipe = Pipeline(
        [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
    )
    categorical_pipe = Pipeline(
        [
            # None, not NaN: with_object_strings writes missing text as None, and an imputer
            # looking for NaN would pass None on to the encoder as an unknown (all zeros)
            (
                "impute",
                SimpleImputer(
                    missing_values=None, strategy="constant", fill_value=MISSING_CATEGORY
                ),
            ),
            (
                "one_hot",
                OneHotEncoder(
                    categories=categories,
                    handle_unknown="ignore",
                    sparse_output=False,
                    dtype=np.float32,
                ),
            ),
        ]
    )
    columns = ColumnTransformer(
        [("numeric", numeric_pipe, numeric), ("categorical", categorical_pipe, categorical)],
        remainder="drop",
        verbose_feature_names_out=True,
    )
    normalise = FunctionTransformer(with_object_strings, feature_names_out="one-to-one")
    return Pipeline([("normalise_strings", normalise), ("columns", columns)])


def fit_preprocessor(train: pd.DataFrame, data: DataConfig, schema: DataSchema) -> Pipeline:
    """Fit on the training split only, so validation and golden metrics stay honest."""
    preprocessor = build_preprocessor(data, schema)
    preprocessor.fit(train[feature_columns(data, schema)])
    return preprocessor


def transform(preprocessor: Pipeline, frame: pd.DataFrame) -> np.ndarray:
    """Features as a dense float32 matrix."""
    return np.asarray(preprocessor.transform(frame), dtype=np.float32)
