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
    parser.add_argument(
        "--dry-run",
        nargs="?",
        const="dry-run",
        default=None,
        metavar="DIR",
        help="compile every pipeline for a Kubernetes stack and write the manifests it would "
        "submit to DIR (default: dry-run/); contacts nothing, needs no ZenML server",
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
    _add_release_commands(sub)
    sub.add_parser("stacks", help="list the stacks that can be selected with --stack")
    sub.add_parser(
        "configs", help="list the environment configs that can be selected with --config"
    )
    return parser


def _add_release_commands(sub: argparse._SubParsersAction) -> None:
    """promote, rollback, reviewers, history: the manual approval path to production."""
    actor = {"default": None, "help": "who starts it (default: $ML_CICD_ACTOR or your login)"}
    promote = sub.add_parser(
        "promote", help="deploy an approved version to production, smoke-test it, move 'champion'"
    )
    promote.add_argument("--version", required=True, help="registered version number")
    promote.add_argument("--actor", **actor)
    rollback = sub.add_parser(
        "rollback", help="serve an earlier approved version in production again"
    )
    rollback.add_argument("--to-version", required=True, help="registered version number")
    rollback.add_argument("--reason", required=True, help="why (recorded in the audit log)")
    rollback.add_argument("--actor", **actor)
    reviewers = sub.add_parser("reviewers", help="manage the review console's local reviewers")
    reviewers_sub = reviewers.add_subparsers(dest="reviewers_command", metavar="action")
    reviewers_sub.required = True
    add = reviewers_sub.add_parser("add", help="add a reviewer (prompts for the password)")
    add.add_argument("name", help="reviewer id, recorded on every decision")
    add.add_argument("--display-name", default="", help="shown in the console")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin (scripts)"
    )
    reviewers_sub.add_parser("list", help="list reviewer ids (never the hashes)")
    sub.add_parser("history", help="decisions, promotions and rollbacks from the audit log")


def _actor(value: str | None) -> str:
    import getpass
    import os

    return value or os.environ.get("ML_CICD_ACTOR") or getpass.getuser()


def _release(args: argparse.Namespace) -> int:
    from configs.config import load_config
    from pipelines.launch import prepare_environment
    from pipelines.promotion import run_release
    from steps.errors import GateRejected

    config, _ = load_config(args.config)
    prepare_environment()
    rollback = args.command == "rollback"
    version = args.to_version if rollback else args.version
    print(f"[production] {args.command} {config.model_name} version {version}", flush=True)
    try:
        result = run_release(
            config,
            args.stack or config.stack,
            version,
            _actor(args.actor),
            action="rollback" if rollback else "promote",
            reason=args.reason if rollback else "",
        )
    except GateRejected as exc:
        print(
            f"\nREJECTED by gate(s): {exc.gate}; production keeps serving what it served and "
            f"'champion' did not move.\n{exc}",
            file=sys.stderr,
        )
        return EXIT_GATE_REJECTED
    if result.get("status") == "unchanged":
        print(f"version {version} is already champion and serving in production; nothing to do")
    else:
        print(
            f"{'ROLLED BACK' if rollback else 'PROMOTED'}: {config.model_name} version {version} "
            f"serves in production at {result['url']} (was: {result.get('from_version') or 'none'})"
        )
    return EXIT_OK


def _reviewers(args: argparse.Namespace) -> int:
    import getpass

    from configs.config import load_config
    from console.auth import AuthError, add_reviewer, load_reviewers, reviewers_file
    from pipelines.launch import prepare_environment

    config, _ = load_config(args.config)
    prepare_environment()
    path = reviewers_file(config)
    if args.reviewers_command == "list":
        for name, entry in sorted(load_reviewers(path).items()):
            print(f"{name:<24} {entry['name']}")
        return EXIT_OK
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for reviewer '{args.name}': ")
        if getpass.getpass("again: ") != password:
            print("ERROR: the passwords differ; nothing was changed", file=sys.stderr)
            return EXIT_ERROR
    try:
        add_reviewer(path, args.name, password, args.display_name)
    except AuthError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(f"reviewer '{args.name}' saved in {path} (scrypt hash, file mode 600)")
    return EXIT_OK


def _history(args: argparse.Namespace) -> int:
    from configs.config import load_config
    from pipelines.launch import prepare_environment
    from steps.deploy.approvals import read_events

    config, _ = load_config(args.config)
    prepare_environment()
    for e in read_events(config.model_name):
        moved = f" (from v{e.from_version})" if e.from_version else ""
        why = f": {e.reason}" if e.reason else ""
        print(f"{e.at}  {e.event:<18} v{e.version}{moved} by {e.actor}{why}")
    return EXIT_OK


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


def _dry_run(args: argparse.Namespace) -> int:
    from configs.config import load_config
    from pipelines.dry_run import dry_run
    from pipelines.launch import prepare_environment

    config, schema = load_config(args.config)
    prepare_environment()
    out = Path(args.dry_run).resolve()
    result = dry_run(config, schema, args.stack or config.stack, out)
    print(f"Dry run of stack '{result.stack}' (nothing was submitted): {out}")
    print(f"  stack.validate(): {result.validation}")
    for manifest in result.steps:
        resources = manifest.pod_spec["containers"][0].get("resources", {})
        gpus = resources.get("limits", {}).get(config.kubernetes.gpu.resource_name, "0")
        print(f"  {manifest.pipeline}/{manifest.step:<22} gpus={gpus:<2} image={manifest.image}")
    for deployment in result.seldon:
        print(f"  seldon/{deployment}.yaml")
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
                pid = f" (pid {state.pid})" if state.pid else ""  # 0: not a local process
                print(f"{environment:<11} {status.detail:<10} {where}{pid}")
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
        if args.dry_run is not None:
            return _dry_run(args)
        if command == "report":
            return _report(args)
        if command in {"status", "restart", "stop", "logs"}:
            return _serving(args)
        if command in {"promote", "rollback"}:
            return _release(args)
        if command == "reviewers":
            return _reviewers(args)
        if command == "history":
            return _history(args)
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
