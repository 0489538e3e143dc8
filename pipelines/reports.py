"""Find a stored evaluation report by training run or registered version, and render it."""

from __future__ import annotations

from pathlib import Path

from steps.errors import PipelineInputError
from steps.evaluate.report import EvaluationReport

FORMATS = ("markdown", "html", "json")


def _from_run(ref: str) -> EvaluationReport:
    from zenml.client import Client

    client = Client()
    if ref == "latest":
        runs = client.list_pipeline_runs(
            pipeline_name="training_pipeline", sort_by="desc:created", size=1
        ).items
        if not runs:
            raise PipelineInputError("there is no training run yet")
        run = runs[0]  # the latest run itself, never an older one that got further
    else:
        try:
            run = client.get_pipeline_run(ref)
        except KeyError:
            raise PipelineInputError(
                f"no training run named or with id '{ref}' (and it is not a version number)"
            ) from None
    step = run.steps.get("gate_model")
    if step is None or "evaluation_report" not in step.outputs:
        raise PipelineInputError(
            f"run '{run.name}' has no evaluation report (it stopped before the gate step)"
        )
    report = step.outputs["evaluation_report"][0].load()
    if not isinstance(report, EvaluationReport):
        raise PipelineInputError(f"run '{run.name}' stored an unexpected report type")
    return report


def _from_version(model_name: str, version: str) -> EvaluationReport:
    import tempfile

    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from pipelines.launch import active_tracking_uri

    client = MlflowClient(tracking_uri=active_tracking_uri())
    try:
        mv = client.get_model_version(model_name, version)
    except MlflowException:
        raise PipelineInputError(f"model '{model_name}' has no version {version}") from None
    run_id = mv.tags.get("mlflow_run_id") or mv.run_id
    if not run_id:
        raise PipelineInputError(f"version {version} of '{model_name}' records no MLflow run")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = client.download_artifacts(run_id, "evaluation/report.json", tmp)
        except MlflowException:
            raise PipelineInputError(
                f"version {version} of '{model_name}' has no evaluation/report.json"
            ) from None
        report = EvaluationReport.model_validate_json(Path(path).read_text())
    expected = mv.tags.get("evaluation_report_sha256")
    if expected and report.sha256() != expected:
        raise PipelineInputError(
            f"the stored report of version {version} does not match its recorded sha256"
        )
    return report


def load_report(ref: str, model_name: str) -> EvaluationReport:
    """A digit string is a registered version of model_name; anything else a ZenML run."""
    return _from_version(model_name, ref) if ref.isdigit() else _from_run(ref)


def render(report: EvaluationReport, fmt: str) -> str:
    """The report in one of FORMATS."""
    if fmt == "markdown":
        from steps.evaluate.render_markdown import render_markdown

        return render_markdown(report)
    if fmt == "html":
        from steps.evaluate.render_html import render_html

        return render_html(report)
    if fmt == "json":
        return report.model_dump_json(indent=2)
    raise PipelineInputError(f"unknown format '{fmt}'; choose one of {', '.join(FORMATS)}")
