"""What every CLI command does first, and the exit codes: written once."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlcicd.stack.active import Environment

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_GATE_REJECTED = 0, 1, 2, 3


def open_session(args: argparse.Namespace, *, activate: bool = False) -> Environment:
    """`--config` and `--stack` of the command line, through the one shared preamble."""
    from mlcicd.stack.active import open_environment

    return open_environment(args.config, args.stack, activate=activate)
