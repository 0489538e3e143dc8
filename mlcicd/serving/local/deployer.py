"""The `local-seldon` model deployer: the local stack's ZenML component for model servers.

It wraps LocalSeldonBackend (seldon-core processes on 127.0.0.1 that outlive the pipeline run)
so that the local stack declares its serving like any other stack, and every deployment is also a
ZenML service: `zenml model-deployer models list|describe|logs|start|stop` show and drive the
same processes that `python run.py status|logs|restart|stop` do.

ZenML records one service per deployment; the backend's state file stays the source of truth for
what serves, so a service whose environment was redeployed since reads as inactive ("replaced").
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast
from uuid import UUID

from pydantic import Field, field_validator
from zenml.client import Client
from zenml.enums import ServiceState
from zenml.model_deployers.base_model_deployer import (
    DEFAULT_DEPLOYMENT_START_STOP_TIMEOUT,
    BaseModelDeployer,
    BaseModelDeployerConfig,
    BaseModelDeployerFlavor,
)
from zenml.models.v2.misc.service import ServiceType
from zenml.services.service import BaseDeploymentService, ServiceConfig
from zenml.services.service_status import ServiceStatus

from mlcicd.serving.contract import EndpointState, EndpointStatus, ModelRef, ServingError
from mlcicd.serving.local.backend import LocalSeldonBackend
from mlcicd.serving.local.recorded import RecordedLocalBackend
from mlcicd.serving.server.protocol import (
    DEFAULT_MAX_ROWS,
    DEFAULT_RUNTIME,
    READINESS_PATH,
    ServerOptions,
)

if TYPE_CHECKING:
    from zenml.services.service import BaseService

FLAVOR_NAME = "local-seldon"
FLAVOR_SOURCE = "mlcicd.serving.local.deployer.LocalSeldonModelDeployerFlavor"
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}

LOCAL_SELDON_SERVICE = ServiceType(
    name="local-seldon-model-server",
    type="model-serving",
    flavor=FLAVOR_NAME,
    description="seldon-core microservice process serving one MLflow model version on localhost",
)


class LocalSeldonModelDeployerConfig(BaseModelDeployerConfig):
    """Where the local model servers keep their state and on which loopback address they bind."""

    serving_root: str = Field(description="state files, server logs and request logs live here")
    host: str = "127.0.0.1"

    @field_validator("host")
    @classmethod
    def _loopback_only(cls, host: str) -> str:
        # These servers have no authentication: they must never listen beyond this machine.
        if host not in _LOOPBACK:
            raise ValueError(f"host must be a loopback address ({', '.join(sorted(_LOOPBACK))})")
        return host

    @property
    def is_local(self) -> bool:
        """Processes on this machine."""
        return True


class LocalSeldonServiceConfig(ServiceConfig):
    """Everything needed to find and drive one environment's server again from a service record."""

    environment: str
    model_uri: str
    serving_root: str
    host: str = "127.0.0.1"
    ports: dict[str, int]
    tracking_uri: str
    max_rows: int = DEFAULT_MAX_ROWS
    runtime: str = DEFAULT_RUNTIME
    threads: int = 1


def _backend_for(config: LocalSeldonServiceConfig) -> LocalSeldonBackend:
    return LocalSeldonBackend(
        root=Path(config.serving_root),
        ports=config.ports,
        tracking_uri=config.tracking_uri,
        host=config.host,
        max_rows=config.max_rows,
        runtime=config.runtime,
        threads=config.threads,
    )


class LocalSeldonService(BaseDeploymentService):
    """One deployment of one version to one environment, as ZenML sees it."""

    SERVICE_TYPE: ClassVar[ServiceType] = LOCAL_SELDON_SERVICE
    config: LocalSeldonServiceConfig
    status: ServiceStatus = Field(default_factory=ServiceStatus)

    def _current(self) -> EndpointStatus:
        return _backend_for(self.config).status(self.config.environment)

    def _is_current_deployment(self, state: EndpointState | None) -> bool:
        return state is not None and state.model_version == self.config.model_version

    def check_status(self) -> tuple[ServiceState, str]:
        """Live state from the backend; a later deployment to the environment retires this one."""
        current = self._current()
        state = current.state
        if state is None:
            return ServiceState.INACTIVE, current.detail
        if not self._is_current_deployment(state):
            return (
                ServiceState.INACTIVE,
                f"{self.config.environment} now serves version {state.model_version}",
            )
        if current.running and current.healthy:
            return ServiceState.ACTIVE, ""
        if current.running:
            return ServiceState.PENDING_STARTUP, current.detail
        return ServiceState.INACTIVE, current.detail

    def get_logs(self, follow: bool = False, tail: int | None = None) -> Generator[str, bool, None]:
        """The server log's last lines (following is not supported: use `tail -f` on the file)."""
        text = _backend_for(self.config).logs(self.config.environment, tail or 200)
        yield from text.splitlines()

    def provision(self) -> None:
        """Start this version again, unless the environment has moved on to another version."""
        backend = _backend_for(self.config)
        state = backend.read_state(self.config.environment)
        if state is not None and not self._is_current_deployment(state):
            raise ServingError(
                f"{self.config.environment} now serves version {state.model_version}; "
                f"deploy version {self.config.model_version} again instead of restarting it"
            )
        backend.restart(self.config.environment)

    def deprovision(self, force: bool = False) -> None:
        """Stop the server if it still serves this version; a newer one is left alone."""
        backend = _backend_for(self.config)
        if force or self._is_current_deployment(backend.read_state(self.config.environment)):
            backend.stop(self.config.environment)

    @property
    def prediction_url(self) -> str | None:
        """The endpoint, while this version is the one serving."""
        state = _backend_for(self.config).read_state(self.config.environment)
        if state is None or not self._is_current_deployment(state):
            return None
        return state.url

    @property
    def healthcheck_url(self) -> str | None:
        """Readiness endpoint of the serving process."""
        state = _backend_for(self.config).read_state(self.config.environment)
        if state is None or not self._is_current_deployment(state):
            return None
        return f"http://{state.host}:{state.port}{READINESS_PATH}"


def _pipeline_context() -> dict[str, str]:
    """Pipeline, step and run names when called inside a step; empty from the command line."""
    from zenml import get_step_context

    try:
        context = get_step_context()
    except RuntimeError:
        return {}
    return {
        "pipeline_name": context.pipeline.name,
        "pipeline_step_name": context.step_name,
        "run_name": context.pipeline_run.name,
    }


class LocalSeldonModelDeployer(BaseModelDeployer):
    """Model servers as seldon-core processes on this machine."""

    NAME: ClassVar[str] = "Local Seldon"
    FLAVOR: ClassVar[type[BaseModelDeployerFlavor]]  # set below, after the flavor class

    @property
    def config(self) -> LocalSeldonModelDeployerConfig:
        """The component configuration, typed."""
        return cast(LocalSeldonModelDeployerConfig, self._config)

    def backend(
        self,
        ports: dict[str, int],
        tracking_uri: str,
        options: ServerOptions | None = None,
    ) -> LocalSeldonBackend:
        """The process backend; ports and server options come from the environment config."""
        options = options or ServerOptions()
        return LocalSeldonBackend(
            root=Path(self.config.serving_root),
            ports=ports,
            tracking_uri=tracking_uri,
            host=self.config.host,
            max_rows=options.max_rows,
            runtime=options.runtime,
            threads=options.threads,
        )

    def serving_backend(
        self,
        ports: dict[str, int],
        tracking_uri: str,
        options: ServerOptions | None = None,
    ) -> RecordedLocalBackend:
        """The backend that mlcicd.serving.backends hands the pipelines on the local stack."""
        return RecordedLocalBackend(self, self.backend(ports, tracking_uri, options))

    def _service_config(
        self, backend: LocalSeldonBackend, environment: str, model: ModelRef
    ) -> LocalSeldonServiceConfig:
        return LocalSeldonServiceConfig(
            name=f"{model.name}-{environment}",
            service_name=f"{model.name}-{environment}",
            description=f"{model.name} version {model.version} in {environment}",
            model_name=model.name,
            model_version=model.version,
            environment=environment,
            model_uri=model.uri,
            serving_root=str(backend.root),
            host=backend.host,
            ports=backend.ports,
            tracking_uri=backend.tracking_uri,
            max_rows=backend.server_options.max_rows,
            runtime=backend.server_options.runtime,
            threads=backend.server_options.threads,
            **_pipeline_context(),
        )

    def _services_of(self, environment: str) -> list[LocalSeldonService]:
        found = self.find_model_server(service_type=LOCAL_SELDON_SERVICE)
        return [
            s
            for s in found
            if isinstance(s, LocalSeldonService) and s.config.environment == environment
        ]

    def record_deployment(self, backend: LocalSeldonBackend, state: EndpointState) -> UUID:
        """Make the deployment a ZenML service; records of replaced deployments are removed."""
        model = ModelRef(state.model_name, state.model_version, state.model_uri)
        config = self._service_config(backend, state.environment, model)
        client = Client()
        for old in self._services_of(state.environment):
            client.delete_service(old.uuid)
        return _create_record(client, config, ServiceState.ACTIVE)

    # -- ZenML's model deployer interface (`zenml model-deployer models ...`, deploy_model) ----
    def perform_deploy_model(
        self,
        id: UUID,
        config: ServiceConfig,
        timeout: int = DEFAULT_DEPLOYMENT_START_STOP_TIMEOUT,
    ) -> BaseService:
        """Serve a version when called through ZenML's generic API: readiness is the only check.

        The pipelines deploy through serving_backend() instead, which smoke-tests first.
        """
        if not isinstance(config, LocalSeldonServiceConfig):
            raise TypeError(
                f"the {FLAVOR_NAME} model deployer needs a LocalSeldonServiceConfig, "
                f"got {type(config).__name__}"
            )
        backend = _backend_for(config)
        model = ModelRef(config.model_name, config.model_version, config.model_uri)
        backend.deploy(config.environment, model, lambda _url: None)
        service = LocalSeldonService(uuid=id, config=config, admin_state=ServiceState.ACTIVE)
        service.update_status()
        return service

    @staticmethod
    def get_model_server_info(service: BaseService) -> dict[str, str | None]:
        """What `zenml model-deployer models describe` prints."""
        if not isinstance(service, LocalSeldonService):
            return {}
        state = _backend_for(service.config).read_state(service.config.environment)
        current = state is not None and state.model_version == service.config.model_version
        return {
            "ENVIRONMENT": service.config.environment,
            "MODEL_URI": service.config.model_uri,
            "PREDICTION_URL": service.prediction_url,
            "HEALTH_CHECK_URL": service.healthcheck_url,
            "PID": str(state.pid) if state is not None and current else None,
            "SERVER_LOG": state.server_log if state is not None and current else None,
            "REQUEST_LOG": state.request_log if state is not None and current else None,
        }

    def perform_stop_model(
        self,
        service: BaseService,
        timeout: int = DEFAULT_DEPLOYMENT_START_STOP_TIMEOUT,
        force: bool = False,
    ) -> BaseService:
        """Stop the process (it can be started again)."""
        service.stop(timeout=timeout, force=force)
        return service

    def perform_start_model(
        self,
        service: BaseService,
        timeout: int = DEFAULT_DEPLOYMENT_START_STOP_TIMEOUT,
    ) -> BaseService:
        """Start the recorded version again."""
        service.start(timeout=timeout)
        return service

    def perform_delete_model(
        self,
        service: BaseService,
        timeout: int = DEFAULT_DEPLOYMENT_START_STOP_TIMEOUT,
        force: bool = False,
    ) -> None:
        """Stop the process; ZenML then deletes the service record."""
        service.stop(timeout=timeout, force=force)


class LocalSeldonModelDeployerFlavor(BaseModelDeployerFlavor):
    """Registered by mlcicd/stack/loader.py before the local stack's components."""

    @property
    def name(self) -> str:
        """The flavor name the stack file uses."""
        return FLAVOR_NAME

    @property
    def config_class(self) -> type[BaseModelDeployerConfig]:
        """Typed component configuration."""
        return LocalSeldonModelDeployerConfig

    @property
    def implementation_class(self) -> type[BaseModelDeployer]:
        """The component."""
        return LocalSeldonModelDeployer


LocalSeldonModelDeployer.FLAVOR = LocalSeldonModelDeployerFlavor


def as_local_deployer(component: Any) -> LocalSeldonModelDeployer | None:
    """The component as a local-seldon deployer, or None when it is another kind."""
    return component if isinstance(component, LocalSeldonModelDeployer) else None


def refresh_service_records(client: Client) -> list[UUID]:
    """Re-create service records written under an older module path of these classes.

    ZenML stores each service with the import path of its class and config (`service_source`,
    `config.type`). A store written before the code moved names classes that no longer exist and
    cannot be read back, which breaks every later deployment; the record is rebuilt with the same
    settings under the current paths. The model servers themselves are not touched.
    """
    current = f"{LocalSeldonService.__module__}.{LocalSeldonService.__qualname__}"
    replaced = []
    for record in client.list_services(flavor=FLAVOR_NAME, size=1000).items:
        if record.service_source == current:
            continue
        settings = {k: v for k, v in (record.config or {}).items() if k != "type"}
        config = LocalSeldonServiceConfig.model_validate(settings)
        client.delete_service(record.id)  # first: ZenML refuses two records of one config
        replaced.append(_create_record(client, config, record.admin_state or ServiceState.ACTIVE))
    return replaced


def _create_record(client: Client, config: LocalSeldonServiceConfig, state: ServiceState) -> UUID:
    """One ZenML service record for a deployment, with its status and URLs as they are now."""
    response = client.create_service(config=config, service_type=LOCAL_SELDON_SERVICE)
    service = LocalSeldonService(uuid=response.id, config=config, admin_state=state)
    service.update_status()
    client.update_service(
        id=service.uuid,
        name=config.service_name,
        service_source=service.model_dump().get("type"),
        admin_state=service.admin_state,
        status=service.status.model_dump(),
        prediction_url=service.get_prediction_url(),
        health_check_url=service.get_healthcheck_url(),
    )
    return service.uuid
