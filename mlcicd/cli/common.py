"""What every CLI command does first, written once: load the config, prepare, pick the stack."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlcicd.config import DataSchema, RunConfig

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_GATE_REJECTED = 0, 1, 2, 3


@dataclass(frozen=True)
class Session:
    """The loaded environment config and the stack a command runs on."""

    config: RunConfig
    schema: DataSchema
    stack: str


def open_session(args: argparse.Namespace, *, activate: bool = False) -> Session:
    """Load `--config`, set private defaults, resolve `--stack`; activate it when asked."""
    from mlcicd.config import load_config
    from mlcicd.paths import prepare_environment

    config, schema = load_config(args.config)
    prepare_environment()
    stack = args.stack or config.stack
    if activate:
        from mlcicd.stack.active import activate_stack

        activate_stack(stack)
    return Session(config, schema, stack)
