"""The same load + train + evaluate as the pipeline, without ZenML or MLflow.

The orchestration benchmark compares `python run.py` with this script to keep the cost of
orchestration, validation, tracking and registration visible.
"""

from __future__ import annotations

import json
import sys

from mlcicd.config import load_config
from mlcicd.data.loading import binary_target, data_fingerprint, load_datasets
from mlcicd.data.preprocessing import fit_preprocessor, split_train_validation
from mlcicd.evaluation.metrics import classification_metrics
from mlcicd.training.fit import fit_packaged_model


def main(config_name: str = "local") -> dict[str, float]:
    """Train and evaluate exactly as the pipeline's steps do, in one process."""
    config, schema = load_config(config_name)
    fingerprint = data_fingerprint(config.data)
    train, golden = load_datasets(config.data, schema, config.seed)
    train_split, validation_split = split_train_validation(train, config.data, config.seed)
    preprocessor = fit_preprocessor(train_split, config.data, schema)
    model, _ = fit_packaged_model(
        train_split, validation_split, preprocessor, config, schema, fingerprint
    )
    return classification_metrics(
        binary_target(golden, config.data).to_numpy(), model.predict_proba(golden)
    )


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:])))
