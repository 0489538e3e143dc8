"""The CLI's two output channels: results on stdout, problems on stderr."""

from __future__ import annotations

import sys


def say(text: str = "") -> None:
    """A line of the command's result (stdout, flushed so job logs stay in order)."""
    print(text, flush=True)  # noqa: T201 - the CLI's output channel


def complain(text: str) -> None:
    """A line about what went wrong (stderr)."""
    print(text, file=sys.stderr, flush=True)  # noqa: T201 - the CLI's error channel
