"""The serving contract every backend, step, CLI command and console page shares.

Backends (local processes, Seldon Core on Kubernetes) implement ServingBackend; everything
above them speaks only these types, so no caller knows which backend serves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from mlcicd.errors import MlCicdError
from mlcicd.serving.server.protocol import PREDICTIONS_PATH


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
class EndpointStatus:
    """Health of one environment's endpoint, for `run.py status` and the console."""

    environment: str
    state: EndpointState | None
    running: bool
    healthy: bool
    detail: str


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
