"""Training pipeline: validate, drift, split, train, package, evaluate, gate, register, stage."""

from zenml import pipeline

from mlcicd.config import DataSchema, RunConfig
from mlcicd.failures import record_failure
from steps.data.detect_drift import detect_drift
from steps.data.fit_preprocessor import fit_preprocessor
from steps.data.load_data import load_data
from steps.data.split_data import split_data
from steps.data.validate_data import validate_data
from steps.deploy.deploy_to_staging import deploy_to_staging
from steps.evaluate.evaluate_model import evaluate_model
from steps.evaluate.gate_model import gate_model
from steps.package.package_model import package_model
from steps.register.register_model import register_model
from steps.train.train_model import train_model


@pipeline(enable_cache=False, on_failure=record_failure)
def training_pipeline(
    config: RunConfig, schema: DataSchema, launch_lineage: dict[str, str]
) -> None:
    """Caching is off: every run is a fresh, registrable candidate with its own lineage."""
    train_data, golden_data, fingerprint = load_data(config=config, schema=schema)
    validation_summary, _ = validate_data(train_data, golden_data, config=config, schema=schema)
    drift_report = detect_drift(train_data, config=config, after="validate_data")
    train_split, validation_split = split_data(train_data, config=config, after="detect_drift")
    preprocessor = fit_preprocessor(train_split, config=config, schema=schema)
    model, training_summary = train_model(
        train_split,
        validation_split,
        preprocessor,
        config=config,
        schema=schema,
        data_fingerprint=fingerprint,
    )
    onnx_model, onnx_parity = package_model(model, golden_data, config=config)
    _, test_scores = evaluate_model(model, golden_data, config=config)
    report, _ = gate_model(
        model,
        golden_data,
        test_scores,
        validation_summary,
        training_summary,
        fingerprint,
        drift_report,
        onnx_model,
        onnx_parity,
        config=config,
        launch_lineage=launch_lineage,
    )
    registered = register_model(
        model,
        train_data,
        golden_data,
        report,
        onnx_model,
        fingerprint,
        config=config,
        schema=schema,
    )
    deploy_to_staging(model, golden_data, registered, config=config)
