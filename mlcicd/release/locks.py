"""Inter-process locks for release actions: one lock file per name under the audit directory.

Decisions and promotions take these so that two reviewers, two terminals or a double click
never act on the same model at the same time.
"""

from __future__ import annotations

import contextlib
import fcntl
import re
from collections.abc import Iterator

from mlcicd.release.audit import audit_dir


@contextlib.contextmanager
def exclusive(name: str, *, blocking: bool = True) -> Iterator[bool]:
    """An inter-process lock on <audit>/<name>.lock; yields False if busy and not blocking."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    with (audit_dir() / f"{safe}.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
