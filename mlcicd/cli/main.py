"""Command-line entry point: `python run.py [--stack NAME] [--config ENV] [command]`.

Heavy imports (ZenML, MLflow, torch) happen only inside commands, so `--help` stays instant.
Exit codes: 0 success, 1 error, 2 usage error, 3 a data or quality gate rejected the run.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from mlcicd.cli import cluster, draft, monitor, release, reports, reviewers, serving, train
from mlcicd.cli.common import EXIT_ERROR, EXIT_GATE_REJECTED, EXIT_OK
from mlcicd.cli.output import complain, say


def _names(folder: str) -> list[str]:
    """Selectable stacks or environment configs, as the loaders see them."""
    if folder == "stacks":
        from mlcicd.stack.loader import available_stacks

        return available_stacks()
    from mlcicd.config.loader import available_configs

    return available_configs()


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
    train_parser = sub.add_parser("train", help="run the training pipeline (the default command)")
    for target in (parser, train_parser):
        train.add_training_flags(target)
    reports.add_parser(sub)
    serving.add_parsers(sub)
    release.add_parsers(sub)
    reviewers.add_parser(sub)
    monitor.add_parser(sub)
    cluster.add_parser(sub)
    draft.add_parser(sub)
    sub.add_parser("stacks", help="list the stacks that can be selected with --stack")
    sub.add_parser(
        "configs", help="list the environment configs that can be selected with --config"
    )
    return parser


def _handler(args: argparse.Namespace) -> Callable[[argparse.Namespace], int]:
    command = args.command or "train"
    if command == "cluster-setup":
        return cluster.cluster_setup
    if command == "preflight":
        return cluster.preflight
    if command == "stop-runs":
        return cluster.stop_runs
    if command == "init":
        return draft.init
    if args.dry_run is not None:
        return train.dry_run
    if command in serving.COMMANDS:
        return serving.serving
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "report": reports.report,
        "approve": release.decision,
        "reject": release.decision,
        "promote": release.release,
        "rollback": release.release,
        "history": release.history,
        "reviewers": reviewers.reviewers,
        "monitor": monitor.monitor,
    }
    return handlers.get(command, train.train)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and map its outcome to an exit code; never ends in a traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in {"stacks", "configs"}:
        say("\n".join(_names(args.command)))
        return EXIT_OK
    from mlcicd.config import ConfigError
    from mlcicd.errors import GateRejected, PipelineInputError

    try:
        return _handler(args)(args)
    except GateRejected as exc:
        if exc.registered:
            outcome = (
                f"registered {exc.registered}, which can never be approved "
                "(the failure is recorded in the release store)"
            )
        else:
            outcome = "nothing was registered"
        complain(f"\nREJECTED by gate(s): {exc.gate}; {outcome}.\n{exc}")
        return EXIT_GATE_REJECTED
    except (ConfigError, PipelineInputError) as exc:
        complain(f"\nERROR: {exc}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        complain("\ninterrupted; a torch training resumes from its checkpoint on the next run")
        return EXIT_ERROR
    except Exception as exc:
        complain(f"\nERROR: {type(exc).__name__}: {exc}")
        return EXIT_ERROR
    finally:
        from mlcicd.runner.failures import flush_telemetry_log_handlers

        flush_telemetry_log_handlers()
