"""Step: fit imputation, scaling and one-hot encoding on the training split."""

from typing import Annotated

import pandas as pd
from sklearn.pipeline import Pipeline
from zenml import step

from mlcicd.config import DataSchema, RunConfig
from mlcicd.data.preprocessing import fit_preprocessor as fit


@step
def fit_preprocessor(
    train_split: pd.DataFrame, config: RunConfig, schema: DataSchema
) -> Annotated[Pipeline, "preprocessor"]:
    """Returned as its own artifact: the packaged model and the serving path reuse this object."""
    return fit(train_split, config.data, schema)
