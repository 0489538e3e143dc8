"""The serving contract every backend, step, CLI command and console page shares.

Backends (local processes, Seldon Core on Kubernetes) implement ServingBackend; everything
above them speaks only these types, so no caller knows which backend serves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from mlcicd.errors import MlCicdError
from mlcicd.serving.server.protocol import PREDICTIONS_PATH

if TYPE_CHECKING:
    from mlcicd.serving.metrics.window import MetricsSource


class ServingError(MlCicdError, RuntimeError):
    """A model server could not be started, verified or stopped."""


@dataclass(frozen=True)
class ModelRef:
    """One registered model version, always by explicit number."""

    name: str
    version: str
    uri: str


@dataclass
class EndpointState:
    """What serves in one environment, as recorded in its state file."""

    environment: str
    model_name: str
    model_version: str
    model_uri: str
    host: str
    port: int
    pid: int
    pid_start_ticks: int
    started_at: str
    server_log: str
    request_log: str
    stopped_at: str = ""

    @property
    def url(self) -> str:
        """The prediction endpoint."""
        return f"http://{self.host}:{self.port}{PREDICTIONS_PATH}"


@dataclass(frozen=True)
class VariantStatus:
    """One version serving (or warm) in an environment, and its share of the traffic."""

    version: str
    role: str  # stable, canary, shadow, previous, or idle (started, not routed)
    port: int
    pid: int  # 0 where it is not a local process (a Kubernetes predictor)
    traffic_percent: int
    running: bool
    healthy: bool
    started_at: str = ""
    retire_at: str = ""


@dataclass(frozen=True)
class RouterStatus:
    """What splits the environment's traffic (the local router; None on Kubernetes)."""

    port: int
    pid: int
    running: bool


@dataclass(frozen=True)
class EndpointStatus:
    """Health of one environment's endpoint, for `run.py status` and the console."""

    environment: str
    state: EndpointState | None
    running: bool
    healthy: bool
    detail: str
    variants: tuple[VariantStatus, ...] = ()
    router: RouterStatus | None = None
    rollout: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The `run.py status --json` object of one environment (schema: README "Status")."""
        state = self.state
        return {
            "environment": self.environment,
            "running": self.running,
            "healthy": self.healthy,
            "detail": self.detail,
            "url": state.url if state is not None else None,
            "stable_version": state.model_version if state is not None else None,
            "router": (
                {"port": self.router.port, "pid": self.router.pid, "running": self.router.running}
                if self.router is not None
                else None
            ),
            "variants": [
                {
                    "version": v.version,
                    "role": v.role,
                    "port": v.port,
                    "pid": v.pid,
                    "traffic_percent": v.traffic_percent,
                    "healthy": v.healthy,
                    "running": v.running,
                    "started_at": v.started_at,
                    "retire_at": v.retire_at or None,
                }
                for v in self.variants
            ],
            "rollout": self.rollout,
        }


class ServingBackend(Protocol):
    """What pipelines, run.py and the console may ask of any serving backend.

    Environments are "staging" and "production". `deploy` serves a model only after
    `verify(prediction_url)` returned without raising, and leaves the previous model serving when
    it raises.
    """

    def deploy(
        self, environment: str, model: ModelRef, verify: Callable[[str], None]
    ) -> EndpointState:
        """Serve `model` once `verify` accepted it; on failure the previous model keeps serving."""
        ...

    def status(self, environment: str) -> EndpointStatus:
        """What serves in `environment`, and whether it is healthy."""
        ...

    def stop(self, environment: str) -> bool:
        """Stop serving; False when nothing was serving."""
        ...

    def restart(self, environment: str) -> EndpointState:
        """Serve the recorded version again (after a crash or a reboot)."""
        ...

    def logs(self, environment: str, lines: int = 50) -> str:
        """The last lines of the model server's log."""
        ...

    def traffic(self) -> TrafficControl:
        """The finer controls a rollout needs (variants side by side, weights)."""
        ...

    def request_logs(self, environment: str) -> list[str]:
        """Where the model servers' request logs of `environment` can be read (paths, globs)."""
        ...


class TrafficControl(Protocol):
    """What the rollout engine drives: versions side by side and the traffic between them.

    Roles: `stable` (answers when anything else fails), `canary` (a share of the traffic),
    `shadow` (a mirror of every request, its answers never returned), `previous` (a warm standby
    with no traffic, for an instant switch-back). Every change is atomic: a table the backend
    would refuse changes nothing.
    """

    def start_variant(
        self,
        environment: str,
        model: ModelRef,
        verify: Callable[[str], None],
        ready_timeout: float | None = None,
    ) -> Any:
        """Start `model` beside what serves, verified at its own URL, with no traffic yet."""
        ...

    def set_traffic(
        self,
        environment: str,
        assignments: Mapping[str, tuple[str, int]],
        retire_after_seconds: float | None = None,
    ) -> Any:
        """Route by {version: (role, weight)} in one swap; unlisted versions get none."""
        ...

    def stop_variant(self, environment: str, version: str) -> bool:
        """Stop a version that has no traffic."""
        ...

    def status(self, environment: str) -> EndpointStatus:
        """Every variant with its role and share."""
        ...

    def write_rollout(self, environment: str, rollout: dict[str, Any] | None) -> None:
        """Persist the rollout in progress beside the deployment."""
        ...

    def read_rollout(self, environment: str) -> dict[str, Any] | None:
        """The rollout in progress, if any."""
        ...

    def metrics_source(self, environment: str, model_name: str) -> MetricsSource:
        """Where the analysis reads requests, errors, latency and predictions per version."""
        ...

    def url(self, environment: str) -> str:
        """The environment's prediction endpoint (what clients call)."""
        ...

    def shadow_pairs(self, environment: str, since: str) -> list[dict[str, Any]]:
        """Mirrored requests since an ISO time: both answers, as the router logged them."""
        ...
