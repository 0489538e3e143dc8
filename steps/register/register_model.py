"""Step: enforce the gate verdict, then register the packaged model as the new `challenger`."""

import hashlib
from dataclasses import asdict
from typing import Annotated

import mlflow
import pandas as pd
from mlflow import MlflowClient
from zenml import get_step_context, log_metadata, step

from inference.onnx_classifier import ONNX_SHA256_KEY
from inference.packaged_model import PackagedClassifier
from mlcicd.config import DataSchema, RunConfig
from mlcicd.data.profile import build_profile
from mlcicd.errors import GateRejected
from mlcicd.registry.lineage import library_versions, training_lineage
from mlcicd.registry.profiles import log_profile
from mlcicd.registry.reports import MODEL_CARD_ARTIFACT
from mlcicd.registry.versions import (
    RegisteredVersion,
    log_packaged_model,
    move_alias,
    register_version,
)
from mlcicd.reporting.model import EvaluationReport
from mlcicd.reporting.model_card import model_card_html, model_card_markdown


def rejection_message(report: EvaluationReport) -> str:
    """Which gates failed and by how much, one line per gate."""
    lines = [f"{len(report.failed_gates)} gate(s) failed:"]
    lines += [f"  - {g.gate}: {g.summary}" for g in report.failed_gates]
    return "\n".join(lines)


@step(experiment_tracker=True)
def register_model(
    model: PackagedClassifier,
    train_data: pd.DataFrame,
    golden_data: pd.DataFrame,
    evaluation_report: EvaluationReport,
    onnx_model: bytes,
    data_fingerprint: str,
    config: RunConfig,
    schema: DataSchema,
) -> Annotated[dict[str, str], "registered_model"]:
    """Runs last and refuses a rejected model, so the registry only ever holds gated versions.

    The version carries its ONNX export (sha256 in tag `onnx_sha256`) and the reference
    profile of its training data and golden predictions: the baseline of every later drift
    check (a new training batch, production traffic).
    """
    if not evaluation_report.passed:
        names = ", ".join(g.gate for g in evaluation_report.failed_gates)
        raise GateRejected(rejection_message(evaluation_report), gate=names)
    run = get_step_context().pipeline_run
    training = evaluation_report.training
    tags = {
        **evaluation_report.lineage,
        "environment": config.environment,
        "stack": run.stack.name if run.stack is not None else "unknown",
        "model_type": config.model.type,
        **training_lineage(training),
        "evaluation_report_sha256": evaluation_report.sha256(),
        **library_versions(),
    }
    if onnx_model:
        tags[ONNX_SHA256_KEY] = hashlib.sha256(onnx_model).hexdigest()
    model_uri = log_packaged_model(model, golden_data, onnx_model)
    profile = build_profile(
        train_data,
        schema,
        model_name=config.model_name,
        label=config.data.label,
        data_fingerprint=data_fingerprint,
        golden_probabilities=model.predict_proba(golden_data),
        golden_metrics=evaluation_report.challenger.metrics,
        threshold=model.threshold,
    )
    tags.update(log_profile(profile))
    metrics_line = ", ".join(
        f"{k}={v:.4f}" for k, v in sorted(evaluation_report.challenger.metrics.items())
    )
    client = MlflowClient()
    version = register_version(
        client, config.model_name, model_uri, tags, f"golden-set metrics: {metrics_line}"
    )
    move_alias(client, config.model_name, "challenger", version)
    mlflow.log_text(
        model_card_markdown(evaluation_report, config.model_card, version), MODEL_CARD_ARTIFACT
    )
    mlflow.log_text(
        model_card_html(evaluation_report, config.model_card, version),
        MODEL_CARD_ARTIFACT.replace(".md", ".html"),
    )
    registered = RegisteredVersion(
        name=config.model_name,
        version=version,
        model_uri=f"models:/{config.model_name}/{version}",
        run_id=tags.get("mlflow_run_id"),
        alias="challenger",
    )
    result = {k: str(v) for k, v in asdict(registered).items()}
    result["tracking_uri"] = mlflow.get_tracking_uri()
    log_metadata({"registered_model": result})
    return result
