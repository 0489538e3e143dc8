"""`train` (the default command) and `--dry-run`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from mlcicd.cli.common import EXIT_OK, open_session
from mlcicd.cli.output import say

if TYPE_CHECKING:
    from mlcicd.runner.launch import TrainingOutcome


def add_training_flags(target: argparse.ArgumentParser) -> None:
    """Flags shared by `run.py` and `run.py train`."""
    target.add_argument("--seed", type=int, default=None, help="override the config's seed")
    target.add_argument(
        "--sample-rows",
        type=int,
        default=None,
        help="train on a seeded sample of N training rows (the golden set stays whole)",
    )
    target.add_argument(
        "--model-type",
        default=None,
        help="override model.type (torch_mlp, hist_gradient_boosting, baseline)",
    )


def _print_summary(outcome: TrainingOutcome) -> None:
    from mlcicd.paths import ml_cicd_home

    reg = outcome.registered
    say("\n" + "=" * 64)
    say(f"Training run {outcome.run_name} on stack '{outcome.stack}' succeeded.")
    say("Golden-set metrics:")
    for name, value in outcome.metrics.items():
        say(f"  {name:<10} {value:.4f}")
    device = outcome.training.get("device_name") or outcome.training.get("device", "?")
    say(f"Trained on: {device}")
    report = outcome.report
    if report is not None:
        say("Gates:")
        for gate in report.gates:
            say(f"  {gate.status:<11} {gate.gate:<12} {gate.summary}")
    say(f"Registered: {reg['name']} version {reg['version']} (alias '{reg['alias']}')")
    say(f"  model URI: {reg['model_uri']}")
    staging = outcome.staging
    if staging.get("status") == "serving":
        say(
            f"Staging:    version {staging['model_version']} serves at {staging['url']} "
            f"(smoke test passed, p95 {staging['smoke_p95_ms']} ms; alias 'staging' moved)"
        )
    elif staging:
        say(f"Staging:    {staging.get('status')}: {staging.get('reason', '')}")
    say("Where to look:")
    tracking = reg.get("tracking_uri", "")
    if tracking.startswith("sqlite:"):
        say(f"  MLflow UI:  mlflow ui --backend-store-uri {tracking}")
    else:
        say(f"  MLflow:     {tracking}")
    say("  ZenML:      zenml login --local   (dashboard), or `zenml pipeline runs list`")
    if outcome.stack == "local":
        say(f"  Local data: {ml_cicd_home()}")
    say("=" * 64)


def train(args: argparse.Namespace) -> int:
    """Run the training pipeline and print what it produced."""
    from mlcicd.runner.launch import run_training

    session = open_session(args)
    config = session.config.with_overrides(
        seed=args.seed, sample_rows=args.sample_rows, model_type=args.model_type
    )
    outcome = run_training(config, session.schema, session.stack)
    _print_summary(outcome)
    return EXIT_OK


def dry_run(args: argparse.Namespace) -> int:
    """Compile every pipeline for a Kubernetes stack; write what it would submit."""
    from mlcicd.runner.dry_run import dry_run as compile_all

    session = open_session(args)
    config = session.config
    out = Path(args.dry_run).resolve()
    result = compile_all(config, session.schema, session.stack, out)
    say(f"Dry run of stack '{result.stack}' (nothing was submitted): {out}")
    say(f"  stack.validate(): {result.validation}")
    for manifest in result.steps:
        resources = manifest.pod_spec["containers"][0].get("resources", {})
        gpus = resources.get("limits", {}).get(config.kubernetes.gpu.resource_name, "0")
        say(f"  {manifest.pipeline}/{manifest.step:<22} gpus={gpus:<2} image={manifest.image}")
    for deployment in result.seldon:
        say(f"  seldon/{deployment}.yaml")
    return EXIT_OK
