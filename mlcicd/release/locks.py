"""Release locks: one row per name in the release store, so they hold across machines.

Promotions and rollbacks take these so that two terminals, two console replicas or a step pod and
a console never release the same model at the same time. A holder renews its lease while it
works; one that crashed frees the lock when the lease runs out.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from mlcicd.release.store import release_store


@contextlib.contextmanager
def exclusive(name: str, *, blocking: bool = True) -> Iterator[bool]:
    """Hold the release lock `name`; yields False if it is busy and not blocking."""
    with release_store().lock(name, blocking=blocking) as acquired:
        yield acquired


def lock_holder(name: str) -> str:
    """Who holds the lock `name` and since when ('' when free), for messages."""
    return release_store().lock_holder(name)
