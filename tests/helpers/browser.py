"""Headless Chromium for the browser tests: Debian's build, or CHROMIUM_PATH (CI uses Chrome)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling out, which this machine refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
E2E_MODEL = "console-e2e"
REVIEWER, PASSWORD = "alice", "correct horse battery"


@dataclass(frozen=True)
class ReleaseEnv:
    """A config with two pending versions: 1 holds `staging`, 2 `challenger` (staging failed)."""

    config: Path
    reviewers: Path
    model_name: str
