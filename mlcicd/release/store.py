"""The release store: every release record in one SQL database, through SQLAlchemy.

Decisions, staging verdicts, promotions, rollbacks and monitoring alerts are rows of one event
table; a decision also takes the (model, version) row of the decision table, whose primary key
makes it exactly-once across processes and machines. Release locks are rows with a lease that
their holder renews, so a crashed holder frees the lock by itself.

The store is `ML_CICD_RELEASE_STORE_URL` when set (PostgreSQL for gpu-k8s or several console
replicas: `postgresql+psycopg://user:password@host/db`), else the SQLite file
`<ML_CICD_HOME>/release/releases.db`. A JSONL audit log left by earlier releases
(`<ML_CICD_HOME>/audit/events.jsonl`) is imported once, on first use.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError, SQLAlchemyError

from mlcicd.errors import PipelineInputError
from mlcicd.paths import home_dir, ml_cicd_home

ENV_STORE_URL = "ML_CICD_RELEASE_STORE_URL"
LOCK_LEASE_SECONDS = 60.0
_BLOCKING_TIMEOUT_SECONDS = 120.0
_SCHEMA_LOCK = 0x6D6C6369  # pg advisory-lock key held while tables are created

metadata = MetaData()
events_table = Table(
    "release_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event", String(64), nullable=False),
    Column("model_name", String(256), nullable=False, index=True),
    Column("version", String(64), nullable=False),
    Column("actor", String(256), nullable=False),
    Column("at", String(40), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("report_sha256", String(64), nullable=False, default=""),
    Column("from_version", String(64), nullable=False, default=""),
    Column("environment", String(64), nullable=False, default=""),
    Column("detail", Text, nullable=False, default=""),
)
decisions_table = Table(
    "release_decisions",
    metadata,
    Column("model_name", String(256), primary_key=True),
    Column("version", String(64), primary_key=True),
    Column("decision", String(16), nullable=False),
    Column("reviewer", String(256), nullable=False),
    Column("decided_at", String(40), nullable=False),
    Column("reason", Text, nullable=False),
    Column("report_sha256", String(64), nullable=False),
    Column("event_id", Integer, ForeignKey("release_events.id"), nullable=False),
)
locks_table = Table(
    "release_locks",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("owner", String(128), nullable=False),
    Column("holder", String(256), nullable=False),
    Column("acquired_at", String(40), nullable=False),
    Column("expires_at", Float, nullable=False),
)
aborts_table = Table(  # a person's request to abort a running rollout (mlcicd.release.rollout)
    "rollout_aborts",
    metadata,
    Column("model_name", String(256), primary_key=True),
    Column("environment", String(64), primary_key=True),
    Column("actor", String(256), nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", String(40), nullable=False),
)
imports_table = Table(
    "release_imports",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("path", Text, nullable=False),
    Column("events", Integer, nullable=False),
    Column("imported_at", String(40), nullable=False),
)


def now_utc() -> str:
    """The one timestamp format of release records (UTC, seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class AuditEvent:
    """One release record, in the order it was written."""

    # approved, rejected, staging_passed, staging_failed, promotion_started/_failed, promoted,
    # rollback_started/_failed, rolled_back, shadowed, monitoring_alert, monitoring_action
    event: str
    model_name: str
    version: str
    actor: str
    at: str
    reason: str = ""
    report_sha256: str = ""
    from_version: str = ""
    environment: str = ""
    detail: str = ""


@dataclass(frozen=True)
class DecisionRow:
    """The one decision recorded on a version."""

    model_name: str
    version: str
    decision: str
    reviewer: str
    decided_at: str
    reason: str
    report_sha256: str

    @classmethod
    def from_event(cls, record: AuditEvent) -> DecisionRow:
        """The decision an `approved` or `rejected` event records."""
        return cls(record.model_name, record.version, record.event, record.actor, record.at,
                   record.reason, record.report_sha256)  # fmt: skip


class ReleaseStoreError(PipelineInputError):
    """The release store cannot be reached or used; the message names the store and the fix."""


class DecisionExists(Exception):
    """Another decision took the version first (the primary key refused the second)."""

    def __init__(self, existing: DecisionRow) -> None:
        super().__init__(f"{existing.model_name} v{existing.version} already {existing.decision}")
        self.existing = existing


def store_url() -> str:
    """ML_CICD_RELEASE_STORE_URL, else the SQLite file under ML_CICD_HOME."""
    url = os.environ.get(ENV_STORE_URL, "").strip()
    if url:
        return url
    return f"sqlite:///{home_dir('release') / 'releases.db'}"


def redacted(url: str) -> str:
    """The URL with its password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable URL>"


def _sqlite_engine(url: str) -> Engine:
    """SQLite with writers serialised by BEGIN IMMEDIATE and a file only its owner can read."""
    path = make_url(url).database
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        if not Path(path).exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    engine = create_engine(url, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun explicitly below
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA foreign_keys=ON")

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _create_tables(engine: Engine) -> None:
    """Create missing tables, on PostgreSQL under an advisory lock.

    Two replicas starting on an empty database race in CREATE TABLE otherwise (the loser fails on
    pg_type's unique index).
    """
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
        metadata.create_all(connection)


class ReleaseStore:
    """One database of release records; every write is one transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            if make_url(url).get_backend_name() == "sqlite":
                self.engine = _sqlite_engine(url)
            else:
                self.engine = create_engine(url, pool_pre_ping=True)
            _create_tables(self.engine)
        except (ArgumentError, SQLAlchemyError, ImportError) as exc:
            raise ReleaseStoreError(
                f"the release store {redacted(url)} cannot be used: {_reason(exc)}; check "
                f"{ENV_STORE_URL} (e.g. postgresql+psycopg://user:password@host:5432/db) or "
                "unset it for the local SQLite file"
            ) from None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        """One transaction; an unreachable database becomes a ReleaseStoreError naming it."""
        try:
            with self.engine.begin() as connection:
                yield connection
        except OperationalError as exc:
            raise ReleaseStoreError(
                f"the release store {redacted(self.url)} did not answer: {_reason(exc)}"
            ) from None

    # events ---------------------------------------------------------------------------------

    def append(self, record: AuditEvent) -> int:
        """Write one event; returns its id (the order of events)."""
        with self.transaction() as connection:
            result = connection.execute(insert(events_table).values(**asdict(record)))
            return int(result.inserted_primary_key[0])

    def events(self, model_name: str | None = None) -> list[AuditEvent]:
        """Events in the order they were written (optionally of one model only)."""
        query = select(events_table).order_by(events_table.c.id)
        if model_name is not None:
            query = query.where(events_table.c.model_name == model_name)
        with self.transaction() as connection:
            rows = connection.execute(query).mappings().all()
        names = [f.name for f in fields(AuditEvent)]
        return [AuditEvent(**{n: row[n] for n in names}) for row in rows]

    # decisions ------------------------------------------------------------------------------

    def record_decision(self, decision: DecisionRow, record: AuditEvent) -> None:
        """The decision and its event in one transaction; DecisionExists if one was there first."""
        try:
            with self.transaction() as connection:
                event_id = connection.execute(
                    insert(events_table).values(**asdict(record))
                ).inserted_primary_key[0]
                connection.execute(
                    insert(decisions_table).values(**asdict(decision), event_id=event_id)
                )
        except IntegrityError:
            existing = self.decision(decision.model_name, decision.version)
            if existing is None:  # not a duplicate decision: a real integrity problem
                raise
            raise DecisionExists(existing) from None

    def decision(self, model_name: str, version: str) -> DecisionRow | None:
        """The version's decision, or None while it awaits one."""
        return self.decisions(model_name).get(str(version))

    def decisions(self, model_name: str) -> dict[str, DecisionRow]:
        """Every decision on a model, by version."""
        query = select(decisions_table).where(decisions_table.c.model_name == model_name)
        with self.transaction() as connection:
            rows = connection.execute(query).mappings().all()
        names = [f.name for f in fields(DecisionRow)]
        return {row["version"]: DecisionRow(**{n: row[n] for n in names}) for row in rows}

    # locks ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(
        self, name: str, *, blocking: bool = True, lease_seconds: float = LOCK_LEASE_SECONDS
    ) -> Iterator[bool]:
        """Hold the named lock while the block runs; yields False if busy and not blocking.

        The holder renews its lease from a background thread; a holder that died stops renewing,
        and its lock can be taken once the lease ran out.
        """
        owner = uuid.uuid4().hex
        holder = f"{socket.gethostname()} pid {os.getpid()}"
        deadline = time.monotonic() + _BLOCKING_TIMEOUT_SECONDS
        while not self._try_lock(name, owner, holder, lease_seconds):
            if not blocking:
                yield False
                return
            if time.monotonic() > deadline:
                raise ReleaseStoreError(
                    f"the release lock '{name}' is still held by {self.lock_holder(name)} "
                    f"after {_BLOCKING_TIMEOUT_SECONDS:.0f} s"
                )
            time.sleep(0.2)
        stop = threading.Event()
        renewer = threading.Thread(
            target=self._renew, args=(name, owner, lease_seconds, stop), daemon=True,
            name=f"release-lock-{name}",
        )  # fmt: skip
        renewer.start()
        try:
            yield True
        finally:
            stop.set()
            renewer.join(timeout=10)
            with self.transaction() as connection:
                connection.execute(
                    delete(locks_table).where(
                        locks_table.c.name == name, locks_table.c.owner == owner
                    )
                )

    def _try_lock(self, name: str, owner: str, holder: str, lease_seconds: float) -> bool:
        now = time.time()
        row = {
            "name": name,
            "owner": owner,
            "holder": holder,
            "acquired_at": now_utc(),
            "expires_at": now + lease_seconds,
        }
        try:
            with self.transaction() as connection:
                # a lease that ran out belongs to a holder that stopped renewing it
                connection.execute(
                    delete(locks_table).where(
                        locks_table.c.name == name, locks_table.c.expires_at < now
                    )
                )
                connection.execute(insert(locks_table).values(**row))
        except IntegrityError:
            return False
        return True

    def _renew(self, name: str, owner: str, lease_seconds: float, stop: threading.Event) -> None:
        while not stop.wait(lease_seconds / 4):
            with (
                contextlib.suppress(ReleaseStoreError, SQLAlchemyError),
                self.transaction() as connection,
            ):
                connection.execute(
                    update(locks_table)
                    .where(locks_table.c.name == name, locks_table.c.owner == owner)
                    .values(expires_at=time.time() + lease_seconds)
                )

    def lock_holder(self, name: str) -> str:
        """Who holds the lock and since when, for messages; '' when it is free."""
        query = select(locks_table).where(locks_table.c.name == name)
        with self.transaction() as connection:
            row = connection.execute(query).mappings().first()
        return f"{row['holder']} since {row['acquired_at']}" if row else ""


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


_stores: dict[str, ReleaseStore] = {}
_stores_lock = threading.Lock()


def release_store() -> ReleaseStore:
    """The configured store, opened once per process and URL; imports the JSONL log once."""
    from mlcicd.release.store_import import import_jsonl

    url = store_url()
    with _stores_lock:
        store = _stores.get(url)
        if store is None:
            store = ReleaseStore(url)
            legacy = ml_cicd_home() / "audit" / "events.jsonl"
            with contextlib.suppress(FileNotFoundError):  # another process imported it first
                import_jsonl(store, legacy)
                legacy.rename(legacy.with_name("events.jsonl.imported"))
            _stores[url] = store
    return store
