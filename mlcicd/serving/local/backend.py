"""The local stack's ServingBackend: deploy, status, stop, restart and logs over LocalTraffic.

`deploy` is the direct strategy (staging, and a first production release): the version is
verified on its own port, then through the router once it takes all traffic, and the versions it
replaced are stopped after their requests in flight finished. Rollouts beside a stable version
go through the same LocalTraffic controls (mlcicd/release/rollout/engine.py).
"""

from __future__ import annotations

from collections.abc import Callable

from mlcicd.serving.contract import (
    EndpointState,
    EndpointStatus,
    ModelRef,
    RouterStatus,
    ServingError,
    VariantStatus,
)
from mlcicd.serving.local.processes import (
    is_alive,
    tail,
    terminate,
    wait_ready,
)
from mlcicd.serving.local.records import (
    IDLE,
    ROUTED_ROLES,
    STABLE,
    EnvironmentRecord,
    VariantRecord,
    now_utc,
)
from mlcicd.serving.local.traffic import LocalTraffic, _ready
from mlcicd.serving.server.protocol import READINESS_PATH


class LocalSeldonBackend(LocalTraffic):
    """Start, route, verify, replace, stop and inspect local model servers per environment."""

    def traffic(self) -> LocalSeldonBackend:
        """The traffic controls of this backend: itself."""
        return self

    # -- the ServingBackend interface ----------------------------------------------------------
    def deploy(
        self,
        environment: str,
        model: ModelRef,
        verify: Callable[[str], None],
    ) -> EndpointState:
        """Serve `model` in `environment` after `verify(prediction_url)` passed on it (direct).

        The version is verified on its own port, then through the router once it takes all
        traffic; if that fails, the previous version gets the traffic back. Replaced versions
        are stopped after their requests in flight have finished.
        """
        self.check_port_free(self.read_record(environment) or EnvironmentRecord(environment))
        self.start_variant(environment, model, verify)
        record = self.read_record(environment)
        before = {v.version: (v.role, v.weight) for v in (record.variants if record else [])}
        previous = {v: rw for v, rw in before.items() if rw[0] in ROUTED_ROLES}
        self.set_traffic(environment, {model.version: (STABLE, 100)})
        try:
            verify(self.url(environment))
        except BaseException:
            if not previous:  # nothing served before: serve nothing rather than a failed version
                self.stop(environment)
            elif model.version not in previous:
                self.set_traffic(environment, previous)
                self.stop_variant(environment, model.version)
            raise
        for version in before:
            if version != model.version:
                self.stop_variant(environment, version)
        return self._serving_state(environment)

    def url(self, environment: str) -> str:
        """The environment's stable prediction endpoint (the router)."""
        from mlcicd.serving.server.protocol import PREDICTIONS_PATH

        return f"http://{self.host}:{self.ports[environment]}{PREDICTIONS_PATH}"

    def status(self, environment: str) -> EndpointStatus:
        """The router and every variant: running, healthy, and the share of traffic each gets."""
        record = self.read_record(environment)
        if record is not None and self._reap(record):
            record = self.read_record(environment)
        state = self.read_state(environment)
        if record is None or state is None:
            return EndpointStatus(environment, None, False, False, "nothing deployed")
        variants = tuple(self._variant_status(v) for v in record.variants)
        router = None
        if record.router is not None:
            router = RouterStatus(
                port=record.router.port,
                pid=record.router.pid,
                running=self._router_alive(record.router),
            )
        routed = router is not None and router.running
        stable_ok = any(v.role == STABLE and v.running for v in variants)
        if not routed or not stable_ok:
            why = (
                f"stopped at {record.stopped_at}"
                if record.stopped_at
                else "not running: stale PID file (the router or the stable version's "
                "process is gone: crashed, killed, or the machine restarted)"
            )
            detail = f"{why}; `python run.py restart {environment}` starts it again"
            return EndpointStatus(
                environment, state, False, False, detail, variants, router, record.rollout
            )
        healthy = _ready(f"http://{self.host}:{self.ports[environment]}{READINESS_PATH}")
        return EndpointStatus(
            environment,
            state,
            True,
            healthy,
            "healthy" if healthy else "running, not ready",
            variants,
            router,
            record.rollout,
        )

    def _variant_status(self, variant: VariantRecord) -> VariantStatus:
        running = is_alive(variant.pid, variant.pid_start_ticks)
        healthy = running and _ready(f"http://{self.host}:{variant.port}{READINESS_PATH}")
        return VariantStatus(
            version=variant.version,
            role=variant.role,
            port=variant.port,
            pid=variant.pid,
            traffic_percent=variant.weight,
            running=running,
            healthy=healthy,
            started_at=variant.started_at,
            retire_at=variant.retire_at,
        )

    def stop(self, environment: str) -> bool:
        """Stop the router and every variant; False when nothing was running."""
        with self._locked(environment):
            record = self.read_record(environment)
            if record is None:
                return False
            stopped = False
            if record.router is not None and self._router_alive(record.router):
                terminate(record.router.pid, record.router.pid_start_ticks)
                stopped = True
            for variant in record.variants:
                if is_alive(variant.pid, variant.pid_start_ticks):
                    terminate(variant.pid, variant.pid_start_ticks)
                    stopped = True
            if stopped:
                record.stopped_at = now_utc()
                self._save(record, reload=False)
            return stopped

    def restart(self, environment: str) -> EndpointState:
        """Start again what the record says should run: dead variants, then the router."""
        with self._locked(environment):
            record = self.read_record(environment)
            if record is None or record.stable is None:
                raise ServingError(f"nothing was ever deployed to {environment}")
            folder = self._dir(environment)
            revived = []
            for variant in list(record.variants):
                if variant.role == IDLE:
                    terminate(variant.pid, variant.pid_start_ticks)
                    record.variants.remove(variant)
                    continue
                fixed = variant.port == self.ports[environment]  # a pre-router server
                if is_alive(variant.pid, variant.pid_start_ticks) and not fixed:
                    continue
                if fixed:
                    terminate(variant.pid, variant.pid_start_ticks)
                model = ModelRef(variant.model_name, variant.version, variant.model_uri)
                fresh = self._spawn(folder, model)
                fresh.role, fresh.weight, fresh.retire_at = (
                    variant.role,
                    variant.weight,
                    variant.retire_at,
                )
                record.variants[record.variants.index(variant)] = fresh
                revived.append(fresh)
            for variant in revived:
                wait_ready(variant, self.host, self.startup_timeout)
            record.stopped_at = ""
            self._save(record, reload=False)
            self._ensure_router(record)
            self._save(record)
        return self._serving_state(environment)

    def request_logs(self, environment: str) -> list[str]:
        """Every version's request log of the environment (rotated backups are found beside)."""
        return [str(self._dir(environment) / "requests-v*.jsonl")]

    def logs(self, environment: str, lines: int = 50) -> str:
        """The last lines of the stable version's server log and of the router's log."""
        record = self.read_record(environment)
        if record is None or record.stable is None:
            return f"nothing deployed to {environment}"
        text = tail(record.stable.server_log, lines)
        if record.router is not None:
            text += f"\n--- router ({record.router.log}) ---\n" + tail(record.router.log, lines)
        return text

    def _serving_state(self, environment: str) -> EndpointState:
        state = self.read_state(environment)
        if state is None:  # only if another process stopped it in between
            raise ServingError(f"{environment} has no stable version after the change")
        return state
