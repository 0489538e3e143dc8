"""`reviewers add|list`: the review console's local reviewers."""

from __future__ import annotations

import argparse
import sys

from mlcicd.cli.common import EXIT_ERROR, EXIT_OK, open_session
from mlcicd.cli.output import complain, say


def add_parser(sub: argparse._SubParsersAction) -> None:
    """`reviewers add NAME [--display-name] [--password-stdin]` and `reviewers list`."""
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


def reviewers(args: argparse.Namespace) -> int:
    """List reviewers, or add one with a password read from the terminal or stdin."""
    import getpass

    from mlcicd.release.reviewers import AuthError, add_reviewer, load_reviewers, reviewers_file

    session = open_session(args)
    path = reviewers_file(session.config)
    if args.reviewers_command == "list":
        for name, entry in sorted(load_reviewers(path).items()):
            say(f"{name:<24} {entry['name']}")
        return EXIT_OK
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for reviewer '{args.name}': ")
        if getpass.getpass("again: ") != password:
            complain("ERROR: the passwords differ; nothing was changed")
            return EXIT_ERROR
    try:
        add_reviewer(path, args.name, password, args.display_name)
    except AuthError as exc:
        complain(f"ERROR: {exc}")
        return EXIT_ERROR
    say(f"reviewer '{args.name}' saved in {path} (scrypt hash, file mode 600)")
    return EXIT_OK
