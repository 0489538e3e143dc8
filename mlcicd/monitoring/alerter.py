"""The local stack's ZenML alerter: alerts go to the audit log, where the console shows them.

Monitoring posts every alert through ZenML's alerter abstraction (`stack.alerter.post`), so a
stack swaps the channel without code changes: this `audit-log` flavor locally, ZenML's Slack
alerter on a team's cluster. Registered by run.py's stack loader like the local deployer; by
hand, `zenml alerter flavor register mlcicd.monitoring.alerter.AuditLogAlerterFlavor`.
"""

from __future__ import annotations

from pydantic import Field
from zenml.alerter.base_alerter import (
    BaseAlerter,
    BaseAlerterConfig,
    BaseAlerterFlavor,
    BaseAlerterStepParameters,
)

from mlcicd.release.audit import AuditEvent, append_event, now_utc

FLAVOR_NAME = "audit-log"
FLAVOR_SOURCE = "mlcicd.monitoring.alerter.AuditLogAlerterFlavor"
ALERT_EVENT = "monitoring_alert"


class MonitoringAlertParameters(BaseAlerterStepParameters):
    """What an alert is about; other alerters ignore what they do not know."""

    model_name: str = ""
    version: str = ""
    environment: str = ""
    kinds: list[str] = Field(default_factory=list)
    action: str = ""


class AuditLogAlerterConfig(BaseAlerterConfig):
    """Nothing to configure: the audit log lives under ML_CICD_HOME."""


class AuditLogAlerter(BaseAlerter):
    """Appends each alert to the release audit log as a `monitoring_alert` event."""

    def post(self, message: str, params: BaseAlerterStepParameters | None = None) -> bool:
        """Record the alert; True once it is on disk."""
        about = params if isinstance(params, MonitoringAlertParameters) else None
        append_event(
            AuditEvent(
                event=ALERT_EVENT,
                model_name=about.model_name if about else "",
                version=about.version if about else "",
                actor="monitor",
                at=now_utc(),
                reason=message,
                environment=about.environment if about else "",
                detail=f"{','.join(about.kinds)} -> {about.action}" if about else "",
            )
        )
        return True

    def ask(self, question: str, params: BaseAlerterStepParameters | None = None) -> bool:
        """A log cannot answer: nothing is ever approved through it."""
        self.post(question, params)
        return False


class AuditLogAlerterFlavor(BaseAlerterFlavor):
    """ZenML flavor `audit-log` of the alerter component type."""

    @property
    def name(self) -> str:
        """The flavor name in stacks/local.yaml."""
        return FLAVOR_NAME

    @property
    def config_class(self) -> type[AuditLogAlerterConfig]:
        """Its (empty) configuration."""
        return AuditLogAlerterConfig

    @property
    def implementation_class(self) -> type[AuditLogAlerter]:
        """The alerter itself."""
        return AuditLogAlerter
