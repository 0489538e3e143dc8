"""Command-line entry point: `python run.py [--stack NAME] [--config ENV] [command]`.

Heavy imports (ZenML, MLflow, torch) happen only inside commands, so `--help` stays instant.
Exit codes: 0 success, 1 error, 2 usage error, 3 a data or quality gate rejected the run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_GATE_REJECTED = 0, 1, 2, 3


def _names(folder: str) -> list[str]:
    return sorted(p.stem for p in (REPO_ROOT / folder).glob("*.yaml"))


def build_parser() -> argparse.ArgumentParser:
    """The CLI; its epilog lists stacks and configs straight from the folders."""
    parser = argparse.ArgumentParser(
        prog="run.py",
        description="Gated ML CI/CD: validate data, train, evaluate and register a model.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            f"stacks (stacks/*.yaml):   {', '.join(_names('stacks'))}\n"
            f"configs (configs/*.yaml): {', '.join(_names('configs'))}\n"
            "exit codes: 0 success, 1 error, 2 usage error, 3 gate rejected the run"
        ),
    )
    parser.add_argument(
        "--config",
        "--env",
        dest="config",
        default="local",
        help="environment name in configs/ or a path to a YAML config (default: local)",
    )
    parser.add_argument(
        "--stack", default=None, help="stack name in stacks/ (default: the config's 'stack')"
    )
    sub = parser.add_subparsers(dest="command", metavar="command")
    train = sub.add_parser("train", help="run the training pipeline (the default command)")
    for target in (parser, train):
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
    report = sub.add_parser(
        "report", help="render the evaluation report of a training run or registered version"
    )
    report.add_argument(
        "ref",
        nargs="?",
        default="latest",
        help="'latest' (default), a ZenML run name or id, or a registered version number",
    )
    report.add_argument("--format", choices=["markdown", "html", "json"], default="markdown")
    report.add_argument("--output", type=Path, default=None, help="write to a file, not stdout")
    sub.add_parser("status", help="what serves in staging and production, which version, health")
    for verb, text in (
        ("restart", "start an environment's recorded version again (after a crash or reboot)"),
        ("stop", "stop an environment's model server"),
        ("logs", "print the last lines of an environment's model server log"),
    ):
        cmd = sub.add_parser(verb, help=text)
        cmd.add_argument("environment", choices=["staging", "production"])
    sub.add_parser("stacks", help="list the stacks that can be selected with --stack")
    sub.add_parser(
        "configs", help="list the environment configs that can be selected with --config"
    )
    return parser


def _print_summary(outcome: object) -> None:
    from pipelines.launch import TrainingOutcome, default_local_home

    assert isinstance(outcome, TrainingOutcome)
    reg = outcome.registered
    print("\n" + "=" * 64)
    print(f"Training run {outcome.run_name} on stack '{outcome.stack}' succeeded.")
    print("Golden-set metrics:")
    for name, value in outcome.metrics.items():
        print(f"  {name:<10} {value:.4f}")
    device = outcome.training.get("device_name") or outcome.training.get("device", "?")
    print(f"Trained on: {device}")
    report = outcome.report
    if report is not None:
        print("Gates:")
        for gate in report.gates:
            print(f"  {gate.status:<11} {gate.gate:<12} {gate.summary}")
    print(f"Registered: {reg['name']} version {reg['version']} (alias '{reg['alias']}')")
    print(f"  model URI: {reg['model_uri']}")
    staging = outcome.staging
    if staging.get("status") == "serving":
        print(
            f"Staging:    version {staging['model_version']} serves at {staging['url']} "
            f"(smoke test passed, p95 {staging['smoke_p95_ms']} ms; alias 'staging' moved)"
        )
    elif staging:
        print(f"Staging:    {staging.get('status')}: {staging.get('reason', '')}")
    print("Where to look:")
    tracking = reg.get("tracking_uri", "")
    if tracking.startswith("sqlite:"):
        print(f"  MLflow UI:  mlflow ui --backend-store-uri {tracking}")
    else:
        print(f"  MLflow:     {tracking}")
    print("  ZenML:      zenml login --local   (dashboard), or `zenml pipeline runs list`")
    if outcome.stack == "local":
        print(f"  Local data: {default_local_home()}")
    print("=" * 64)


def _train(args: argparse.Namespace) -> int:
    from configs.config import load_config
    from pipelines.launch import prepare_environment, run_training

    config, schema = load_config(args.config)
    config = config.with_overrides(
        seed=args.seed, sample_rows=args.sample_rows, model_type=args.model_type
    )
    stack = args.stack or config.stack
    prepare_environment()
    outcome = run_training(config, schema, stack)
    _print_summary(outcome)
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    from configs.config import load_config
    from pipelines.launch import activate_stack, prepare_environment
    from pipelines.reports import load_report, render

    config, _ = load_config(args.config)
    prepare_environment()
    activate_stack(args.stack or config.stack)
    text = render(load_report(args.ref, config.model_name), args.format)
    if args.output is None:
        print(text)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.format} report to {args.output}")
    return EXIT_OK


def _serving(args: argparse.Namespace) -> int:
    from configs.config import load_config
    from pipelines.launch import activate_stack, prepare_environment
    from stacks.seldon.backends import serving_backend

    config, _ = load_config(args.config)
    prepare_environment()
    activate_stack(args.stack or config.stack)
    backend = serving_backend(config)
    if args.command == "status":
        for environment in ("staging", "production"):
            status = backend.status(environment)
            state = status.state
            if state is None:
                print(f"{environment:<11} {status.detail}")
            elif status.running:
                where = f"{state.model_name} v{state.model_version} at {state.url}"
                print(f"{environment:<11} {status.detail:<10} {where} (pid {state.pid})")
            else:
                model = f"{state.model_name} v{state.model_version}"
                print(f"{environment:<11} {model}: {status.detail}")
        return EXIT_OK
    if args.command == "restart":
        state = backend.restart(args.environment)
        print(
            f"{args.environment}: {state.model_name} v{state.model_version} serves at {state.url}"
        )
    elif args.command == "stop":
        stopped = backend.stop(args.environment)
        print(f"{args.environment}: {'stopped' if stopped else 'was not running'}")
    else:
        print(backend.logs(args.environment))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and map its outcome to an exit code; never ends in a traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.command or "train"
    if command == "stacks":
        print("\n".join(_names("stacks")))
        return EXIT_OK
    if command == "configs":
        print("\n".join(_names("configs")))
        return EXIT_OK
    from configs.config import ConfigError
    from steps.errors import GateRejected, PipelineInputError

    try:
        if command == "report":
            return _report(args)
        if command in {"status", "restart", "stop", "logs"}:
            return _serving(args)
        return _train(args)
    except GateRejected as exc:
        print(f"\nREJECTED by gate(s): {exc.gate}; nothing was registered.\n{exc}", file=sys.stderr)
        return EXIT_GATE_REJECTED
    except (ConfigError, PipelineInputError) as exc:
        print(f"\nERROR: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(
            "\ninterrupted; a torch training resumes from its checkpoint on the next run",
            file=sys.stderr,
        )
        return EXIT_ERROR
    except Exception as exc:
        print(f"\nERROR: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        from pipelines.failure_reporting import flush_telemetry_log_handlers

        flush_telemetry_log_handlers()


if __name__ == "__main__":
    sys.exit(main())
