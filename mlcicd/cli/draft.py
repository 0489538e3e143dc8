"""`run.py init --data FILE [--label COL] [--name NAME]`: draft a config and schema for new data."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from mlcicd.cli.common import EXIT_OK
from mlcicd.cli.output import say


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The init command."""
    parser = sub.add_parser(
        "init",
        help="draft configs/NAME.yaml and configs/schemas/NAME.yaml from a data file, to review",
    )
    parser.add_argument("--data", type=Path, required=True, help="a CSV (with header) or Parquet")
    parser.add_argument("--label", default=None, help="the label column (default: the last one)")
    parser.add_argument("--name", default=None, help="model and file name (default: the file's)")
    parser.add_argument("--configs-dir", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--force", action="store_true", help="replace existing drafts")


def init(args: argparse.Namespace) -> int:
    """Write both drafts and say what to review before the first run."""
    from mlcicd.data.draft import write_drafts
    from mlcicd.paths import REPO_ROOT

    name = args.name or re.sub(r"[^A-Za-z0-9_.-]+", "-", args.data.stem).strip("-.") or "model"
    configs = args.configs_dir or REPO_ROOT / "configs"
    config, schema, notes = write_drafts(args.data, args.label, name, configs, args.force)
    say(f"Drafted {config} and {schema}. Review them, in particular:")
    for note in notes:
        say(f"  - {note}")
    say(f"Then: python run.py --config {config}")
    return EXIT_OK
