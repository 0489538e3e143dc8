"""A real PostgreSQL server for the release-store tests: Debian's binaries, a throw-away cluster.

`make postgresql` installs the binaries. The server listens on 127.0.0.1 only, on a free port,
and is stopped (fast shutdown) by whoever started it. PostgreSQL refuses to run as root, so as
root the cluster belongs to the `postgres` user the Debian package creates.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from tests.helpers.session import free_port


def postgres_bin() -> Path:
    """The folder of initdb/pg_ctl: PG_BIN, Debian's newest, or the PATH."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise RuntimeError("PostgreSQL is not installed: run `make postgresql` (or set PG_BIN)")


@contextlib.contextmanager
def postgres_server(folder: Path) -> Iterator[str]:
    """Start a cluster in `folder`; yields the admin URL of its `postgres` database."""
    binaries = postgres_bin()
    data = folder / "data"
    data.mkdir(parents=True)
    prefix: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        for path in (folder, data):
            os.chown(path, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    run = lambda *args: subprocess.run(  # noqa: E731
        [*prefix, *args], check=True, capture_output=True, text=True, timeout=120
    )
    run(str(binaries / "initdb"), "-D", str(data), "-U", "tests", "-A", "trust", "-E", "UTF8")
    port = free_port()
    options = f"-h 127.0.0.1 -p {port} -k {folder} -c fsync=off -c max_connections=100"
    run(str(binaries / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"),
        "-o", options, "-w", "-t", "60", "start")  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            time.sleep(0.1)
        yield f"postgresql+psycopg://tests@127.0.0.1:{port}/postgres"
    finally:
        run(str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")


def create_database(admin_url: str, name: str) -> str:
    """A fresh, empty database on the server; returns its URL."""
    import psycopg

    plain = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + f"/{name}"
