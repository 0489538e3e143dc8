"""Step: read the configured train and golden files and fingerprint their content."""

from typing import Annotated

import pandas as pd
from zenml import log_metadata, step

from mlcicd.config import DataSchema, RunConfig
from mlcicd.data.loading import data_fingerprint, load_datasets


@step
def load_data(
    config: RunConfig, schema: DataSchema
) -> tuple[
    Annotated[pd.DataFrame, "train_data"],
    Annotated[pd.DataFrame, "golden_data"],
    Annotated[str, "data_fingerprint"],
]:
    """The fingerprint travels to the registry so every version names the exact data it saw."""
    fingerprint = data_fingerprint(config.data)
    train, golden = load_datasets(config.data, schema, config.seed)
    log_metadata(
        {"train_rows": len(train), "golden_rows": len(golden), "data_fingerprint": fingerprint}
    )
    return train, golden, fingerprint
