"""`approve`, `reject`, `promote`, `rollback`, `history`: the manual approval path to production."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from mlcicd.cli.common import EXIT_ERROR, EXIT_GATE_REJECTED, EXIT_OK, open_session
from mlcicd.cli.output import complain, say

if TYPE_CHECKING:
    from mlcicd.config import RunConfig


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """approve, reject, promote, rollback and history."""
    for verb, text in (
        ("approve", "approve a pending version for production (the console's decision, scripted)"),
        ("reject", "reject a pending version, with a reason"),
    ):
        decide = sub.add_parser(verb, help=text)
        decide.add_argument("--version", required=True, help="registered version number")
        decide.add_argument("--reason", required=True, help="why (recorded with the decision)")
        _add_sign_in(decide, required=True)
        decide.add_argument(
            "--report-sha256",
            default=None,
            help="sha256 of the report you reviewed (run.py report N --format json shows the "
            "report; default: the stored report as it is now)",
        )
    promote = sub.add_parser(
        "promote", help="deploy an approved version to production, smoke-test it, move 'champion'"
    )
    promote.add_argument("--version", required=True, help="registered version number")
    _add_sign_in(promote, required=False)
    rollback = sub.add_parser(
        "rollback", help="serve an earlier approved version in production again"
    )
    rollback.add_argument("--to-version", required=True, help="registered version number")
    rollback.add_argument("--reason", required=True, help="why (recorded in the release store)")
    _add_sign_in(rollback, required=False)
    sub.add_parser("history", help="decisions, promotions and rollbacks from the release store")


def _add_sign_in(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """Who acts: a reviewer and password (or, for promote/rollback, the console's token)."""
    token = "" if required else "; not needed when $ML_CICD_RELEASE_TOKEN holds a console token"
    parser.add_argument(
        "--reviewer", required=required, help=f"reviewer id (run.py reviewers add){token}"
    )
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the reviewer's password from stdin (else it is prompted for)",
    )


def signed_in_identity(
    args: argparse.Namespace, config: RunConfig, action: str, version: str
) -> str | None:
    """The authenticated identity that acts, or None after saying why nobody is signed in.

    A state-changing command acts as a reviewer: signed in with --reviewer and password, or,
    for a release the console started, through the console's short-lived release token.
    """
    import getpass
    import os

    from mlcicd.release.reviewers import AuthError, check_credentials, reviewers_file
    from mlcicd.release.signing import ENV_RELEASE_TOKEN, TokenError, verify_release_token

    token = os.environ.get(ENV_RELEASE_TOKEN, "")
    if token and not args.reviewer:
        try:
            return verify_release_token(token, action, version)
        except TokenError as exc:
            complain(f"ERROR: {exc}; nothing was changed")
            return None
    if not args.reviewer:
        complain(
            f"ERROR: {action} changes what serves in production, so it needs a signed-in "
            "reviewer: add --reviewer ID (the password is prompted for, or read with "
            "--password-stdin), or start it from the review console"
        )
        return None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for reviewer '{args.reviewer}': ")
    try:
        reviewer = check_credentials(reviewers_file(config), args.reviewer, password)
    except AuthError as exc:
        complain(f"ERROR: {exc}")
        return None
    if reviewer is None:
        complain("ERROR: unknown reviewer or wrong password; nothing was changed")
        return None
    return reviewer.identity


def release(args: argparse.Namespace) -> int:
    """Promote or roll back one version."""
    from mlcicd.errors import GateRejected
    from mlcicd.runner.release import run_release

    session = open_session(args)
    config = session.config
    rollback = args.command == "rollback"
    version = args.to_version if rollback else args.version
    actor = signed_in_identity(args, config, args.command, version)
    if actor is None:
        return EXIT_ERROR
    say(f"[production] {args.command} {config.model_name} version {version} by {actor}")
    try:
        result = run_release(
            config,
            session.stack,
            version,
            actor,
            action="rollback" if rollback else "promote",
            reason=args.reason if rollback else "",
        )
    except GateRejected as exc:
        complain(
            f"\nREJECTED by gate(s): {exc.gate}; production keeps serving what it served and "
            f"'champion' did not move.\n{exc}"
        )
        return EXIT_GATE_REJECTED
    if result.get("status") == "unchanged":
        say(f"version {version} is already champion and serving in production; nothing to do")
    else:
        say(
            f"{'ROLLED BACK' if rollback else 'PROMOTED'}: {config.model_name} version {version} "
            f"serves in production at {result['url']} (was: {result.get('from_version') or 'none'})"
        )
    return EXIT_OK


def decision(args: argparse.Namespace) -> int:
    """Record an approval or rejection with the console's checks, signed in as a reviewer."""
    from mlflow import MlflowClient

    from mlcicd.release.approvals import current_report, decide, require_version
    from mlcicd.stack.active import active_tracking_uri

    session = open_session(args, activate=True)
    name = session.config.model_name
    identity = signed_in_identity(args, session.config, args.command, args.version)
    if identity is None:
        return EXIT_ERROR
    client = MlflowClient(tracking_uri=active_tracking_uri())
    info = require_version(client, name, args.version)
    seen = args.report_sha256 or current_report(client, name, info.version).sha256()
    kind = "approved" if args.command == "approve" else "rejected"
    record = decide(client, name, info.version, kind, identity, args.reason, seen)
    say(
        f"{record.decision.upper()}: {name} version {record.version} by {record.reviewer} at "
        f"{record.decided_at} (report sha256 {record.report_sha256[:12]})"
    )
    if record.decision == "approved":
        say(f"next: python run.py promote --version {record.version}")
    return EXIT_OK


def history(args: argparse.Namespace) -> int:
    """Print the audit log of the config's model."""
    from mlcicd.release.audit import read_events

    session = open_session(args)
    for e in read_events(session.config.model_name):
        moved = f" (from v{e.from_version})" if e.from_version else ""
        # a failure's reason is its detail (which gate, which metric): the person gave none
        text = e.reason or (e.detail if e.event.endswith("_failed") else "")
        why = f": {text}" if text else ""
        say(f"{e.at}  {e.event:<18} v{e.version}{moved} by {e.actor}{why}")
    return EXIT_OK
