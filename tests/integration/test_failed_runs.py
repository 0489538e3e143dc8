"""A failed step reaches the CLI as its typed failure on every orchestrator.

The local orchestrator raises when a step fails; ZenML 0.98's Kubernetes orchestrator does not
(its orchestrator pod exits normally and the submitting call returns). `KubernetesLikePipeline`
reproduces exactly that difference around a real pipeline run in the session's store, so the
launcher must read the failure from the run's step statuses and metadata, as it does on a
cluster.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from zenml import pipeline, step

from mlcicd.config import RunConfig
from mlcicd.config.loader import load_config
from mlcicd.errors import GateRejected, PipelineInputError
from mlcicd.failures import record_failure
from mlcicd.runner.pipeline_run import new_run_name, run_pipeline
from mlcicd.stack.active import activate_stack

pytestmark = pytest.mark.slow


@step(enable_cache=False)
def judge(kind: str) -> int:
    """Fails the way a gate, a bad input or a bug fails."""
    if kind == "gate":
        raise GateRejected("roc_auc 0.61 < 0.90", gate="thresholds")
    if kind == "input":
        raise PipelineInputError("data.train.path missing.csv does not exist")
    if kind == "bug":
        raise ZeroDivisionError("division by zero")
    return 1


@step(enable_cache=False)
def after(value: int) -> int:
    """A downstream step, skipped when `judge` failed."""
    return value + 1


@pipeline(enable_cache=False, on_failure=record_failure)
def judged_pipeline(kind: str) -> None:
    """judge -> after."""
    after(judge(kind))


class KubernetesLikePipeline:
    """The pipeline as the Kubernetes orchestrator submits it: the call returns when a step fails."""

    def __init__(self, wrapped: Any) -> None:
        self.wrapped = wrapped

    def copy(self) -> Any:
        return self.wrapped.copy()

    def with_options(self, **options: Any) -> Any:
        configured = self.wrapped.with_options(**options)

        def submit(**arguments: Any) -> None:
            with contextlib.suppress(Exception):
                configured(**arguments)

        return submit


@pytest.fixture(scope="module")
def config() -> RunConfig:
    activate_stack("local")
    return load_config("local")[0]


@pytest.mark.parametrize("orchestrator", ["local", "kubernetes"])
def test_a_gate_rejection_keeps_its_gate_and_exit_code(config, orchestrator):
    launched = (
        judged_pipeline if orchestrator == "local" else KubernetesLikePipeline(judged_pipeline)
    )
    with pytest.raises(GateRejected) as rejected:
        run_pipeline(launched, new_run_name("judged"), {"kind": "gate"}, config, "local")
    assert rejected.value.gate == "thresholds"
    assert "step 'judge': roc_auc 0.61 < 0.90" in str(rejected.value)


def test_an_input_error_stays_an_input_error_on_kubernetes(config):
    with pytest.raises(PipelineInputError, match="data.train.path missing.csv"):
        run_pipeline(
            KubernetesLikePipeline(judged_pipeline),
            new_run_name("judged"),
            {"kind": "input"},
            config,
            "local",
        )


def test_any_other_failure_names_the_failed_step_and_its_error_on_kubernetes(config):
    with pytest.raises(RuntimeError, match="step 'judge': ZeroDivisionError: division by zero"):
        run_pipeline(
            KubernetesLikePipeline(judged_pipeline),
            new_run_name("judged"),
            {"kind": "bug"},
            config,
            "local",
        )


def test_a_completed_run_is_returned(config):
    run = run_pipeline(
        KubernetesLikePipeline(judged_pipeline), new_run_name("judged"), {"kind": "ok"}, config,
        "local",
    )  # fmt: skip
    assert str(getattr(run.status, "value", run.status)) == "completed"


def test_stop_runs_knows_every_launched_run_and_stops_only_unfinished_ones(config):
    from mlcicd.runner.stop_runs import launched_file, record_launch, stop_launched_runs

    launched_file().unlink(missing_ok=True)
    name = new_run_name("judged")
    run_pipeline(judged_pipeline, name, {"kind": "ok"}, config, "local")
    assert name in launched_file().read_text().split()  # recorded before it was submitted
    record_launch("training-never-submitted")
    said: list[str] = []
    assert stop_launched_runs(said.append) == []
    assert f"  {name}: already completed" in said
    assert "  training-never-submitted: not on the ZenML server (never submitted)" in said
    assert not launched_file().exists()  # forgotten once handled
