"""The local backend as the pipelines use it: every change of what serves becomes a ZenML service.

ZenML's `zenml model-deployer models list` then shows the same deployments `python run.py
status` does; the backend's own records stay the source of truth.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from mlcicd.serving.contract import EndpointState, EndpointStatus, ModelRef
from mlcicd.serving.local.backend import LocalSeldonBackend
from mlcicd.serving.local.records import EnvironmentRecord

if TYPE_CHECKING:
    from mlcicd.serving.local.deployer import LocalSeldonModelDeployer


class RecordedLocalBackend:
    """The ServingBackend the pipelines use on the local stack: backend calls + ZenML records."""

    def __init__(self, deployer: LocalSeldonModelDeployer, backend: LocalSeldonBackend) -> None:
        self.deployer = deployer
        self.backend = backend

    def deploy(
        self, environment: str, model: ModelRef, verify: Callable[[str], None]
    ) -> EndpointState:
        """Deploy through the backend, then record the deployment as a ZenML service."""
        state = self.backend.deploy(environment, model, verify)
        self.deployer.record_deployment(self.backend, state)
        return state

    def status(self, environment: str) -> EndpointStatus:
        """Delegates to the backend: its state file is the source of truth."""
        return self.backend.status(environment)

    def stop(self, environment: str) -> bool:
        """Delegates to the backend."""
        return self.backend.stop(environment)

    def restart(self, environment: str) -> EndpointState:
        """Delegates to the backend."""
        return self.backend.restart(environment)

    def logs(self, environment: str, lines: int = 50) -> str:
        """Delegates to the backend."""
        return self.backend.logs(environment, lines)

    def request_logs(self, environment: str) -> list[str]:
        """Delegates to the backend."""
        return self.backend.request_logs(environment)

    def traffic(self) -> RecordedTraffic:
        """The backend's traffic controls; a new stable version is recorded as a ZenML service."""
        return RecordedTraffic(self)


class RecordedTraffic:
    """LocalSeldonBackend's traffic controls, recording each change of the stable version."""

    def __init__(self, recorded: RecordedLocalBackend) -> None:
        self._recorded = recorded
        backend = recorded.backend
        self.start_variant = backend.start_variant
        self.stop_variant = backend.stop_variant
        self.status = backend.status
        self.write_rollout = backend.write_rollout
        self.read_rollout = backend.read_rollout
        self.metrics_source = backend.metrics_source
        self.url = backend.url
        self.shadow_pairs = backend.shadow_pairs

    def set_traffic(
        self,
        environment: str,
        assignments: Mapping[str, tuple[str, int]],
        retire_after_seconds: float | None = None,
    ) -> EnvironmentRecord:
        """Delegates; when the stable version changed, the ZenML service record follows."""
        backend = self._recorded.backend
        before = backend.read_state(environment)
        record = backend.set_traffic(environment, assignments, retire_after_seconds)
        after = backend.read_state(environment)
        if after is not None and (before is None or before.model_version != after.model_version):
            self._recorded.deployer.record_deployment(backend, after)
        return record
