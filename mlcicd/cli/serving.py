"""`status`, `restart`, `stop`, `logs`, `traffic`: the model servers of staging and production."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from mlcicd.cli.common import EXIT_ERROR, EXIT_OK, open_session
from mlcicd.cli.output import say

if TYPE_CHECKING:
    from mlcicd.serving.contract import EndpointStatus

COMMANDS = ("status", "restart", "stop", "logs", "traffic")
PRODUCTION_CHANGES = ("restart", "stop")  # need a signed-in reviewer and are recorded
ENVIRONMENTS = ("staging", "production")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """One subcommand each; all but status name the environment."""
    status = sub.add_parser(
        "status", help="what serves in staging and production: router, versions, traffic, health"
    )
    status.add_argument(
        "--json", action="store_true", help="one JSON object per environment (schema: README)"
    )
    for verb, text in (
        ("restart", "start an environment's recorded version again (after a crash or reboot)"),
        ("stop", "stop an environment's model server"),
        ("logs", "print the last lines of an environment's model server log"),
        ("traffic", "replay golden rows against an environment's endpoint (demos, benchmarks)"),
    ):
        cmd = sub.add_parser(verb, help=text)
        cmd.add_argument("environment", choices=ENVIRONMENTS)
        if verb in PRODUCTION_CHANGES:
            cmd.add_argument(
                "--reviewer", help="reviewer id; production changes act as a signed-in reviewer"
            )
            cmd.add_argument(
                "--password-stdin",
                action="store_true",
                help="read the reviewer's password from stdin (else it is prompted for)",
            )
        if verb == "traffic":
            cmd.add_argument(
                "--rps", type=_bounded(1000), default=20.0, help="requests/s (default 20, max 1000)"
            )
            cmd.add_argument(
                "--duration",
                type=_bounded(3600),
                default=60.0,
                help="seconds (default 60, max 3600)",
            )


def _bounded(limit: float) -> Callable[[str], float]:
    """An argparse type: a number above 0 and at most `limit` (the replay is always bounded)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
        if not 0 < value <= limit:
            raise argparse.ArgumentTypeError(f"must be above 0 and at most {limit:g}, got {text}")
        return value

    return parse


def _status_lines(environment: str, status: EndpointStatus) -> list[str]:
    state = status.state
    if state is None:
        return [f"{environment:<11} {status.detail}"]
    if status.running:
        pid = f" (pid {state.pid})" if state.pid else ""  # 0: not a local process
        where = f"{state.model_name} v{state.model_version} at {state.url}{pid}"
        head = f"{environment:<11} {status.detail:<10} {where}"
    else:
        head = f"{environment:<11} {state.model_name} v{state.model_version}: {status.detail}"
    lines = [head]
    for v in status.variants:
        where = f"port {v.port}, pid {v.pid}" if v.pid else f"port {v.port}"
        health = "healthy" if v.healthy else ("not answering" if v.running else "stopped")
        lines.append(
            f"{'':<11}   v{v.version:<5} {v.role:<9} {v.traffic_percent:>3} %  {health} ({where})"
        )
    rollout = status.rollout or {}
    if rollout:
        lines.append(
            f"{'':<11}   last rollout: {rollout.get('strategy')} of v{rollout.get('candidate')} "
            f"{rollout.get('state')} at step '{rollout.get('step')}'"
        )
    return lines


def _traffic(args: argparse.Namespace) -> int:
    from mlcicd.serving.backends import serving_backend
    from mlcicd.serving.replay import golden_rows, replay

    session = open_session(args, activate=True)
    url = serving_backend(session.config).traffic().url(args.environment)
    rows = golden_rows(session.config)
    say(f"{args.environment}: {args.rps:g} requests/s for {args.duration:g} s to {url}")
    result = replay(url, rows, args.rps, args.duration, progress=lambda r: say(f"  {r.summary()}"))
    say(result.summary())
    return EXIT_OK


def record_production_change(model: str, event: str, version: str, actor: str, url: str) -> None:
    """A stop or restart of production, in the release store (it changes what is live)."""
    from mlcicd.release.audit import AuditEvent, append_event, now_utc

    append_event(AuditEvent(event, model, version, actor, now_utc(), environment="production",
                            detail=url))  # fmt: skip


def serving(args: argparse.Namespace) -> int:
    """Ask the active stack's serving backend."""
    from mlcicd.serving.backends import serving_backend

    if args.command == "traffic":
        return _traffic(args)
    session = open_session(args, activate=True)
    backend = serving_backend(session.config)
    actor = ""
    if args.command in PRODUCTION_CHANGES and args.environment == "production":
        from mlcicd.cli.release import signed_in_identity

        actor = signed_in_identity(args, session.config, args.command, "production") or ""
        if not actor:
            return EXIT_ERROR
    if args.command == "status":
        statuses = {environment: backend.status(environment) for environment in ENVIRONMENTS}
        if args.json:
            say(json.dumps({env: s.to_dict() for env, s in statuses.items()}, indent=2))
            return EXIT_OK
        for environment, status in statuses.items():
            say("\n".join(_status_lines(environment, status)))
        return EXIT_OK
    if args.command == "restart":
        state = backend.restart(args.environment)
        say(f"{args.environment}: {state.model_name} v{state.model_version} serves at {state.url}")
        if actor:
            record_production_change(session.config.model_name, "restarted", state.model_version,
                                     actor, state.url)  # fmt: skip
    elif args.command == "stop":
        serving = backend.status(args.environment)
        stopped = backend.stop(args.environment)
        say(f"{args.environment}: {'stopped' if stopped else 'was not running'}")
        was = serving.state
        if actor and stopped and was is not None:
            record_production_change(
                session.config.model_name, "stopped", was.model_version, actor, was.url
            )
    else:
        say(backend.logs(args.environment))
    return EXIT_OK
