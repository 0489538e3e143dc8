"""Step: stratified train/validation split of the training file."""

from typing import Annotated

import pandas as pd
from zenml import step

from mlcicd.config import RunConfig
from mlcicd.data.preprocessing import split_train_validation


@step
def split_data(
    train_data: pd.DataFrame, config: RunConfig
) -> tuple[Annotated[pd.DataFrame, "train_split"], Annotated[pd.DataFrame, "validation_split"]]:
    """The validation split drives early stopping; the golden set is kept for the final verdict."""
    train, validation = split_train_validation(train_data, config.data, config.seed)
    return train, validation
