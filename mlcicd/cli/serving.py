"""`status`, `restart`, `stop`, `logs`: the model servers of staging and production."""

from __future__ import annotations

import argparse

from mlcicd.cli.common import EXIT_OK, open_session
from mlcicd.cli.output import say

COMMANDS = ("status", "restart", "stop", "logs")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """One subcommand each; all but status name the environment."""
    sub.add_parser("status", help="what serves in staging and production, which version, health")
    for verb, text in (
        ("restart", "start an environment's recorded version again (after a crash or reboot)"),
        ("stop", "stop an environment's model server"),
        ("logs", "print the last lines of an environment's model server log"),
    ):
        cmd = sub.add_parser(verb, help=text)
        cmd.add_argument("environment", choices=["staging", "production"])


def serving(args: argparse.Namespace) -> int:
    """Ask the active stack's serving backend."""
    from mlcicd.serving.backends import serving_backend

    session = open_session(args, activate=True)
    backend = serving_backend(session.config)
    if args.command == "status":
        for environment in ("staging", "production"):
            status = backend.status(environment)
            state = status.state
            if state is None:
                say(f"{environment:<11} {status.detail}")
            elif status.running:
                where = f"{state.model_name} v{state.model_version} at {state.url}"
                pid = f" (pid {state.pid})" if state.pid else ""  # 0: not a local process
                say(f"{environment:<11} {status.detail:<10} {where}{pid}")
            else:
                model = f"{state.model_name} v{state.model_version}"
                say(f"{environment:<11} {model}: {status.detail}")
        return EXIT_OK
    if args.command == "restart":
        state = backend.restart(args.environment)
        say(f"{args.environment}: {state.model_name} v{state.model_version} serves at {state.url}")
    elif args.command == "stop":
        stopped = backend.stop(args.environment)
        say(f"{args.environment}: {'stopped' if stopped else 'was not running'}")
    else:
        say(backend.logs(args.environment))
    return EXIT_OK
