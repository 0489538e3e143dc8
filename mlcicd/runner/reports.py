"""Find a stored evaluation report by training run (ZenML) or registered version (MLflow)."""

from __future__ import annotations

from mlcicd.errors import PipelineInputError
from mlcicd.registry.reports import stored_report
from mlcicd.reporting.model import EvaluationReport
from mlcicd.stack.active import active_tracking_uri


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


def load_report(ref: str, model_name: str) -> EvaluationReport:
    """A digit string is a registered version of model_name; anything else a ZenML run."""
    if not ref.isdigit():
        return _from_run(ref)
    from mlflow import MlflowClient

    return stored_report(MlflowClient(tracking_uri=active_tracking_uri()), model_name, ref)
