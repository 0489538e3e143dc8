"""Local traffic control: a router per environment in front of one model server per version.

Each environment (staging, production) has a fixed port owned by its router and a folder
`<ML_CICD_HOME>/serving/<environment>/` with `deployment.json` (router, variants, traffic, the
rollout in progress), the router's `routes.json`, and per version a server log and a request log.
A version is started once, on a spare port, and verified there; it receives traffic only when the
router's table says so, and the table changes atomically (a reload of the router), so a failed
smoke test, a crashed variant or a rollback never takes the environment down.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from mlcicd.serving.contract import (
    EndpointState,
    ModelRef,
    ServingError,
)
from mlcicd.serving.local.processes import (
    free_port,
    is_alive,
    port_in_use,
    process_start_ticks,
    spawn_model_server,
    terminate,
    wait_ready,
)
from mlcicd.serving.local.records import (
    IDLE,
    PREVIOUS,
    ROUTED_ROLES,
    STABLE,
    EnvironmentRecord,
    RouterRecord,
    VariantRecord,
    legacy_record,
    now_utc,
    read_record,
    write_json_atomically,
)
from mlcicd.serving.metrics.direct import DirectMetricsSource
from mlcicd.serving.router import control
from mlcicd.serving.router.routes import RouteTable
from mlcicd.serving.server.protocol import DEFAULT_MAX_ROWS, DEFAULT_RUNTIME, ServerOptions

DEFAULT_UPSTREAM_TIMEOUT = 10.0
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024


class LocalTraffic:
    """The processes and traffic of the local environments: variants, the router, the table."""

    def __init__(
        self,
        root: Path,
        ports: dict[str, int],
        tracking_uri: str,
        host: str = "127.0.0.1",
        startup_timeout: float = 180.0,
        max_rows: int = DEFAULT_MAX_ROWS,
        upstream_timeout: float = DEFAULT_UPSTREAM_TIMEOUT,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        runtime: str = DEFAULT_RUNTIME,
        threads: int = 1,
    ) -> None:
        if len(set(ports.values())) != len(ports):
            raise ServingError(f"serving ports must differ per environment, got {ports}")
        self.root = root
        self.ports = dict(ports)
        self.tracking_uri = tracking_uri
        self.host = host
        self.startup_timeout = startup_timeout
        self.max_rows = max_rows
        self.server_options = ServerOptions(max_rows, runtime, threads)
        self.upstream_timeout = upstream_timeout
        self.max_body_bytes = max_body_bytes

    def _spawn(self, folder: Path, model: ModelRef) -> VariantRecord:
        """Start one version's server on a free port with this environment's server options."""
        return spawn_model_server(
            folder, model, free_port(self.host), self.host, self.tracking_uri, self.server_options
        )

    # -- files ---------------------------------------------------------------------------------
    def _dir(self, environment: str) -> Path:
        if environment not in self.ports:
            raise ServingError(
                f"unknown environment '{environment}'; known: {', '.join(sorted(self.ports))}"
            )
        path = self.root / environment
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _record_file(self, environment: str) -> Path:
        return self._dir(environment) / "deployment.json"

    def routes_file(self, environment: str) -> Path:
        """The router's table (derived from deployment.json)."""
        return self._dir(environment) / "routes.json"

    def shadow_log(self, environment: str) -> Path:
        """Where the router writes each mirrored request's two answers."""
        return self._dir(environment) / "shadow.jsonl"

    @contextlib.contextmanager
    def _locked(self, environment: str) -> Iterator[None]:
        """One change of an environment's processes or traffic at a time, across processes."""
        with (self._dir(environment) / ".lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def read_record(self, environment: str) -> EnvironmentRecord | None:
        """Everything recorded for the environment; a damaged record is a clear ServingError."""
        try:
            record = read_record(self._record_file(environment))
        except ValueError as exc:
            raise ServingError(
                f"{exc}; stop the environment's processes (`python run.py stop {environment}`) "
                "and deploy again"
            ) from None
        return record if record is not None else legacy_record(self._dir(environment), environment)

    def _save(self, record: EnvironmentRecord, reload: bool = True) -> None:
        """Persist the record and the router's table, then make the router apply the table."""
        record.generation += 1
        routes = record.routes(
            self.upstream_timeout, self.max_body_bytes, str(self.shadow_log(record.environment))
        )
        if any(v["role"] == STABLE for v in routes["variants"]):
            RouteTable.from_dict(routes)  # never write a table the router would refuse
            write_json_atomically(self.routes_file(record.environment), routes)
        write_json_atomically(self._record_file(record.environment), record.to_dict())
        if reload and record.router is not None and self._router_alive(record.router):
            control.reload(record.router.port, host=self.host)

    # -- state as the rest of the project sees it -----------------------------------------------
    def read_state(self, environment: str) -> EndpointState | None:
        """The stable variant, reached through the router's fixed port; None if never deployed."""
        record = self.read_record(environment)
        if record is None or record.stable is None:
            return None
        stable = record.stable
        return EndpointState(
            environment=environment,
            model_name=stable.model_name,
            model_version=stable.version,
            model_uri=stable.model_uri,
            host=self.host,
            port=self.ports[environment],
            pid=stable.pid,
            pid_start_ticks=stable.pid_start_ticks,
            started_at=stable.started_at,
            server_log=stable.server_log,
            request_log=stable.request_log,
            stopped_at=record.stopped_at,
        )

    def is_running(self, state: EndpointState) -> bool:
        """True only if the recorded PID is alive and is the process we started."""
        return is_alive(state.pid, state.pid_start_ticks)

    def _router_alive(self, router: RouterRecord) -> bool:
        return is_alive(router.pid, router.pid_start_ticks)

    def variant_url(self, variant: VariantRecord) -> str:
        """The variant's own prediction endpoint (bypassing the router)."""
        from mlcicd.serving.server.protocol import PREDICTIONS_PATH

        return f"http://{self.host}:{variant.port}{PREDICTIONS_PATH}"

    # -- processes -----------------------------------------------------------------------------
    def _ensure_router(self, record: EnvironmentRecord) -> None:
        """Start the router on the fixed port unless it runs; the table must have a stable."""
        if record.router is not None and self._router_alive(record.router):
            return
        fixed = self.ports[record.environment]
        for squatter in [v for v in record.variants if v.port == fixed and v.role == IDLE]:
            terminate(squatter.pid, squatter.pid_start_ticks)  # a pre-router server, replaced
            record.variants.remove(squatter)
        legacy = self._dir(record.environment) / "state.json"
        if legacy.is_file():
            legacy.replace(legacy.with_name("state.json.replaced"))
        self.check_port_free(record)
        folder = self._dir(record.environment)
        log = folder / "router.log"
        process = control.start_router(
            self.routes_file(record.environment), fixed, log, host=self.host
        )
        record.router = RouterRecord(
            port=fixed,
            pid=process.pid,
            pid_start_ticks=process_start_ticks(process.pid) or 0,
            started_at=now_utc(),
            log=str(log),
        )

    def check_port_free(self, record: EnvironmentRecord) -> None:
        """Refuse early when a program that is not ours (router or pre-router server) holds it."""
        if record.router is not None and self._router_alive(record.router):
            return
        fixed = self.ports[record.environment]
        ours = any(v.port == fixed and is_alive(v.pid, v.pid_start_ticks) for v in record.variants)
        if not ours and port_in_use(self.host, fixed):
            raise ServingError(
                f"port {fixed} for {record.environment} is used by another program; stop it or "
                "choose another port in the environment config (deployment.local_ports)"
            )

    def _stop_variant_process(self, record: EnvironmentRecord, variant: VariantRecord) -> None:
        """Wait (bounded) for the router to drain the variant, then stop its process."""
        if record.router is not None and self._router_alive(record.router):
            control.wait_drained(record.router.port, variant.version, host=self.host)
        terminate(variant.pid, variant.pid_start_ticks)
        record.variants = [v for v in record.variants if v.version != variant.version]

    def _reap(self, record: EnvironmentRecord) -> bool:
        """Stop warm previous versions whose keep-warm time is over; True if any was stopped."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        expired = [v for v in record.variants if v.role == PREVIOUS and _expired(v, now)]
        for variant in expired:
            variant.role, variant.weight = IDLE, 0
        if expired:
            self._save(record)
            for variant in expired:
                self._stop_variant_process(record, variant)
            self._save(record, reload=False)
        return bool(expired)

    # -- the traffic interface the rollout engine drives ----------------------------------------
    def start_variant(
        self,
        environment: str,
        model: ModelRef,
        verify: Callable[[str], None],
        ready_timeout: float | None = None,
    ) -> VariantRecord:
        """Start `model` on a spare port, wait until ready, verify it there; it gets no traffic.

        A version that already runs is verified again rather than started twice. On any failure
        the new process is stopped and nothing else changes.
        """
        folder = self._dir(environment)
        with self._locked(environment):
            record = self.read_record(environment) or EnvironmentRecord(environment)
            existing = record.variant(model.version)
            if existing is not None and existing.model_uri != model.uri:
                # another model's process under the same version number (a config with another
                # model_name in this environment): it must never answer for this model
                terminate(existing.pid, existing.pid_start_ticks)
                record.variants.remove(existing)
                existing = None
            if existing is not None and is_alive(existing.pid, existing.pid_start_ticks):
                variant, fresh = existing, False
            else:
                if existing is not None:  # a dead record of this version: replace it
                    record.variants.remove(existing)
                variant = self._spawn(folder, model)
                record.variants.append(variant)
                fresh = True
                self._save(record, reload=False)
        try:
            wait_ready(variant, self.host, ready_timeout or self.startup_timeout)
            verify(self.variant_url(variant))
        except BaseException:
            if fresh:
                with self._locked(environment):
                    record = self.read_record(environment) or EnvironmentRecord(environment)
                    current = record.variant(variant.version)
                    if current is not None and current.role == IDLE:
                        self._stop_variant_process(record, current)
                        self._save(record, reload=False)
                    elif current is None:
                        terminate(variant.pid, variant.pid_start_ticks)
            raise
        return variant

    def set_traffic(
        self,
        environment: str,
        assignments: Mapping[str, tuple[str, int]],
        retire_after_seconds: float | None = None,
    ) -> EnvironmentRecord:
        """Give each listed version its (role, weight) at once; unlisted variants get none.

        The new table is validated before anything is written, and the router applies it in one
        swap: requests in flight finish on the variant they started on. A `previous` variant
        is kept warm for `retire_after_seconds`, then stopped by the next command.
        """
        with self._locked(environment):
            record = self.read_record(environment)
            if record is None:
                raise ServingError(f"nothing runs in {environment}; start a version first")
            for version in assignments:
                variant = record.variant(version)
                if variant is None or not is_alive(variant.pid, variant.pid_start_ticks):
                    raise ServingError(
                        f"version {version} does not run in {environment}; cannot route to it"
                    )
            for variant in record.variants:
                role, weight = assignments.get(variant.version, (IDLE, 0))
                if role not in (*ROUTED_ROLES, IDLE):
                    raise ServingError(f"unknown traffic role '{role}' for v{variant.version}")
                if role == PREVIOUS and variant.role != PREVIOUS:
                    # None: kept warm until a later change retires it
                    variant.retire_at = (
                        _later(retire_after_seconds) if retire_after_seconds is not None else ""
                    )
                elif role != PREVIOUS:
                    variant.retire_at = ""
                variant.role, variant.weight = role, weight
            record.stopped_at = ""
            try:
                RouteTable.from_dict(
                    record.routes(
                        self.upstream_timeout,
                        self.max_body_bytes,
                        str(self.shadow_log(environment)),
                    )
                )
            except ValueError as exc:
                raise ServingError(f"invalid traffic for {environment}: {exc}") from None
            self._save(record)
            if record.router is None or not self._router_alive(record.router):
                self._ensure_router(record)
                self._save(record)
            return record

    def stop_variant(self, environment: str, version: str) -> bool:
        """Stop a version that gets no traffic; False when it was not running."""
        with self._locked(environment):
            record = self.read_record(environment)
            variant = record.variant(version) if record is not None else None
            if record is None or variant is None:
                return False
            if variant.role == STABLE:
                raise ServingError(
                    f"v{version} is the stable version of {environment}; route traffic to "
                    "another version first"
                )
            if variant.role != IDLE:
                variant.role, variant.weight = IDLE, 0
                self._save(record)
            self._stop_variant_process(record, variant)
            self._save(record, reload=False)
            return True

    def write_rollout(self, environment: str, rollout: dict[str, Any] | None) -> None:
        """Record the rollout in progress (None: none), for status, the console and a re-run."""
        with self._locked(environment):
            record = self.read_record(environment) or EnvironmentRecord(environment)
            record.rollout = rollout
            self._save(record, reload=False)

    def read_rollout(self, environment: str) -> dict[str, Any] | None:
        """The rollout in progress, as the engine last recorded it."""
        record = self.read_record(environment)
        return record.rollout if record is not None else None

    def shadow_pairs(self, environment: str, since: str, limit: int = 100_000) -> list[dict]:
        """The router's shadow log since an ISO time (the newest `limit` lines at most)."""
        path = self.shadow_log(environment)
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()[-limit:]
        except OSError:
            return []
        start = datetime.fromisoformat(since)
        pairs = []
        for line in lines:
            try:
                pair = json.loads(line)
                if datetime.fromisoformat(str(pair["timestamp"])) >= start:
                    pairs.append(pair)
            except (ValueError, KeyError, TypeError):
                continue  # a line cut by a crash
        return pairs

    def metrics_source(self, environment: str, model_name: str) -> DirectMetricsSource:
        """The variants' own metrics (and the router's upstream failures), read directly."""

        def targets() -> dict[str, int]:
            record = self.read_record(environment)
            return {v.version: v.port for v in record.variants} if record else {}

        return DirectMetricsSource(
            targets,
            self.ports[environment],
            host=self.host,
            model_name=model_name,
            environment=environment,
        )


def _ready(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _later(seconds: float) -> str:
    from datetime import timedelta

    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="seconds")


def _expired(variant: VariantRecord, now: str) -> bool:
    return bool(variant.retire_at) and variant.retire_at <= now
