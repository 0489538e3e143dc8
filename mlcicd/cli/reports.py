"""`report`: render a stored evaluation report."""

from __future__ import annotations

import argparse
from pathlib import Path

from mlcicd.cli.common import EXIT_OK, open_session
from mlcicd.cli.output import say


def add_parser(sub: argparse._SubParsersAction) -> None:
    """`report [REF] [--format F] [--output FILE]`."""
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


def report(args: argparse.Namespace) -> int:
    """Print or write one report."""
    from mlcicd.reporting.render import render
    from mlcicd.runner.reports import load_report

    session = open_session(args, activate=True)
    text = render(load_report(args.ref, session.config.model_name), args.format)
    if args.output is None:
        say(text)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        say(f"wrote {args.format} report to {args.output}")
    return EXIT_OK
