"""A pull request on a fresh runner meets production's champion from the team's MLflow registry.

The team registry is a real `mlflow server` holding a champion; the run's own registry is the
session's (which has no version of this model). Unreachable, the report says so and the champion
gate blocks: a pull request is never silently compared with nothing.
"""

from __future__ import annotations

import mlflow
import pytest
from mlflow import MlflowClient

from mlcicd.cli import main as run
from mlcicd.config import load_config
from mlcicd.data.loading import binary_target
from mlcicd.evaluation.champion import ENV_CHAMPION_REGISTRY, ENV_CHAMPION_REGISTRY_REQUIRED
from mlcicd.evaluation.report_builder import build_report
from mlcicd.evaluation.scoring import score_model
from mlcicd.registry.versions import (
    log_packaged_model,
    move_alias,
    register_version,
    version_by_alias,
)
from mlcicd.reporting.markdown import render_markdown
from mlcicd.runner.reports import load_report
from tests.helpers.mlflow_server import mlflow_server

NAME = "team-champion"


@pytest.fixture(scope="module")
def team_registry(tmp_path_factory, packaged, adult_frames, tracking_uri):
    """The team's registry, holding `champion` v1 of NAME (the session's tiny model)."""
    with mlflow_server(tmp_path_factory.mktemp("team-mlflow")) as url:
        previous = mlflow.get_tracking_uri()
        mlflow.set_tracking_uri(url)  # log_model logs into the active run's server
        try:
            client = MlflowClient(tracking_uri=url, registry_uri=url)
            with mlflow.start_run(experiment_id=client.create_experiment("production")):
                uri = log_packaged_model(packaged, adult_frames[1].head(20))
            version = register_version(client, NAME, uri, {}, "production's champion")
            move_alias(client, NAME, "champion", version)
        finally:
            mlflow.set_tracking_uri(previous)
        assert mlflow.tracking._model_registry.utils._registry_uri is None  # left alone
        yield url


def test_a_pull_request_run_is_compared_with_the_team_champion(
    team_registry, write_config, adult_sample_files, monkeypatch, tracking_uri, capsys
) -> None:
    overrides = adult_sample_files(rows=2500)
    overrides["model_name"] = NAME
    monkeypatch.setenv(ENV_CHAMPION_REGISTRY, team_registry)
    code = run.main(["--config", str(write_config(overrides))])
    capsys.readouterr()
    assert code in {run.EXIT_OK, run.EXIT_GATE_REJECTED}  # either way, it was compared
    report = load_report("latest", NAME)
    assert report.model_name == NAME
    assert report.champion is not None and report.champion.error is None
    assert (report.champion.version, report.champion.registry) == ("1", team_registry)
    assert set(report.champion.scores.metrics) >= {"roc_auc", "accuracy"}
    [gate] = [g for g in report.gates if g.gate == "champion"]
    assert gate.status in {"passed", "failed"} and gate.checks  # judged against v1's numbers
    assert f"champion v1 of {team_registry}" in render_markdown(report)
    # the local registry had no champion of this model: without the variable, nothing to compare
    assert version_by_alias(MlflowClient(tracking_uri=tracking_uri), NAME, "champion") is None


@pytest.mark.parametrize(
    ("registry", "message"),
    [("http://127.0.0.1:9", "cannot be reached"),  # nothing listens there
     ("", f"{ENV_CHAMPION_REGISTRY} is not set")],  # the PR workflow requires one
)  # fmt: skip
def test_an_unreachable_team_registry_is_said_loudly_and_blocks(
    packaged, adult_frames, monkeypatch, tracking_uri, registry, message
) -> None:
    config, _ = load_config("local")
    config = config.model_copy(update={"model_name": NAME})
    golden = adult_frames[1].head(400)
    scores = score_model(
        binary_target(golden, config.data).to_numpy(), packaged.predict_proba(golden),
        packaged.threshold,
    )  # fmt: skip
    monkeypatch.setenv(ENV_CHAMPION_REGISTRY, registry)
    monkeypatch.setenv(ENV_CHAMPION_REGISTRY_REQUIRED, "true")
    report = build_report(
        model=packaged, golden_data=golden, scores=scores, config=config,
        client=MlflowClient(tracking_uri=tracking_uri), run_name="pr-run",
        validation_summary={}, training_summary={}, lineage={},
    )  # fmt: skip
    assert report.champion is not None and report.champion.registry == registry
    assert message in (report.champion.error or "")
    [gate] = [g for g in report.gates if g.gate == "champion"]
    assert gate.status == "failed" and "NOT compared with production's champion" in gate.summary
    assert not report.passed
    assert message in render_markdown(report)
