"""Step: compare with the champion, measure fairness and latency, and decide every gate."""

from typing import Annotated, Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from zenml import get_step_context, log_metadata, step
from zenml.types import HTMLString

from inference.packaged_model import PackagedClassifier
from mlcicd.config import RunConfig
from mlcicd.evaluation.report_builder import build_report
from mlcicd.reporting.drift import DriftReport
from mlcicd.reporting.html import render_html
from mlcicd.reporting.markdown import render_markdown
from mlcicd.reporting.model import EvaluationReport, ModelScores, PackagingResult


@step(experiment_tracker=True)
def gate_model(
    model: PackagedClassifier,
    golden_data: pd.DataFrame,
    test_scores: ModelScores,
    validation_summary: dict[str, Any],
    training_summary: dict[str, Any],
    data_fingerprint: str,
    drift_report: DriftReport,
    onnx_model: bytes,
    onnx_parity: PackagingResult,
    config: RunConfig,
    launch_lineage: dict[str, str],
) -> tuple[
    Annotated[EvaluationReport, "evaluation_report"],
    Annotated[HTMLString, "evaluation_report_html"],
]:
    """Never raises on a rejection: the report of a rejected model is kept for the reviewer.

    register_model enforces the verdict, so a rejected run still leaves its full report behind.
    """
    run = get_step_context().pipeline_run
    lineage = {
        **launch_lineage,
        "data_fingerprint": data_fingerprint,
        "config_fingerprint": config.fingerprint(),
        "zenml_run_id": str(run.id),
        "zenml_run_name": run.name,
    }
    active = mlflow.active_run()
    if active is not None:
        lineage["mlflow_run_id"] = active.info.run_id
    report = build_report(
        model=model,
        golden_data=golden_data,
        scores=test_scores,
        config=config,
        client=MlflowClient(),
        run_name=run.name,
        validation_summary=validation_summary,
        training_summary=training_summary,
        lineage=lineage,
        drift=drift_report,
        packaging=onnx_parity,
        onnx_model=onnx_model,
    )
    html = render_html(report)
    mlflow.log_text(report.model_dump_json(indent=2), "evaluation/report.json")
    mlflow.log_text(render_markdown(report), "evaluation/report.md")
    mlflow.log_text(html, "evaluation/report.html")
    mlflow.set_tags(
        {
            "evaluation_report_sha256": report.sha256(),
            "gates_passed": str(report.passed).lower(),
        }
    )
    log_metadata(
        {
            "gates_passed": report.passed,
            "failed_gates": [g.gate for g in report.failed_gates],
            "evaluation_report_sha256": report.sha256(),
        }
    )
    return report, HTMLString(html)
