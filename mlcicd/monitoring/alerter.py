"""The stacks' ZenML alerters, and how the monitor posts its alerts through them.

Monitoring posts every alert through ZenML's alerter abstraction (`stack.alerter.post`), so a
stack swaps the channel without code changes: the `audit-log` flavor locally (alerts recorded in
the release store, shown by the console), ZenML's Slack alerter on gpu-k8s. Both are registered
by run.py's stack loader; by hand,
`zenml alerter flavor register mlcicd.monitoring.alerter.AuditLogAlerterFlavor` (and
`...SlackAlertsFlavor`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field
from zenml.alerter.base_alerter import (
    BaseAlerter,
    BaseAlerterConfig,
    BaseAlerterFlavor,
    BaseAlerterStepParameters,
)
from zenml.integrations.slack.flavors.slack_alerter_flavor import (
    SlackAlerterConfig,
    SlackAlerterFlavor,
)

from mlcicd.release.audit import AuditEvent, append_event, now_utc

if TYPE_CHECKING:
    from zenml.integrations.slack.alerters.slack_alerter import SlackAlerter

    from mlcicd.config import RunConfig
    from mlcicd.reporting.monitoring import MonitoringReport

FLAVOR_NAME = "audit-log"
FLAVOR_SOURCE = "mlcicd.monitoring.alerter.AuditLogAlerterFlavor"
SLACK_FLAVOR_NAME = "slack-alerts"
SLACK_FLAVOR_SOURCE = "mlcicd.monitoring.alerter.SlackAlertsFlavor"
ALERT_EVENT = "monitoring_alert"
MAX_LISTED_BREACHES = 20
SCHEDULED_OUTCOME = (
    "not taken: a scheduled run only alerts; `python run.py --env ENV monitor` (the monitor.yml "
    "workflow) takes the action"
)


class MonitoringAlertParameters(BaseAlerterStepParameters):
    """What an alert is about; other alerters ignore what they do not know."""

    model_name: str = ""
    version: str = ""
    environment: str = ""
    kinds: list[str] = Field(default_factory=list)
    action: str = ""


class AuditLogAlerterConfig(BaseAlerterConfig):
    """Nothing to configure: alerts go to the release store (mlcicd.release.store)."""


class AuditLogAlerter(BaseAlerter):
    """Records each alert in the release store as a `monitoring_alert` event."""

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


class SlackAlertsConfig(SlackAlerterConfig):
    """ZenML's Slack alerter config, minus the Slack API calls when the component is registered.

    ZenML's own flavor checks the token and channel with Slack (`auth.test`) whenever the stack
    is registered, which makes the offline dry run and every CI runner without Slack access fail
    and reads the token secret before the stack exists. Here registration only checks that a
    channel is set; Slack answers at the first alert, and a refused post is reported.
    """

    @property
    def is_valid(self) -> bool:
        """A channel is named; the token is a secret reference, resolved when posting."""
        return bool(self.slack_channel_id)


class SlackAlertsFlavor(SlackAlerterFlavor):
    """Flavor `slack-alerts`: ZenML's SlackAlerter as it is, registered without calling Slack."""

    @property
    def name(self) -> str:
        """The flavor name in stacks/gpu-k8s.yaml."""
        return SLACK_FLAVOR_NAME

    @property
    def config_class(self) -> type[SlackAlertsConfig]:
        """ZenML's Slack config with an offline `is_valid`."""
        return SlackAlertsConfig

    @property
    def implementation_class(self) -> type[SlackAlerter]:
        """ZenML's own SlackAlerter: `chat.postMessage` through slack_sdk."""
        from zenml.integrations.slack.alerters.slack_alerter import SlackAlerter

        return SlackAlerter


def alert_text(report: MonitoringReport, model_name: str, action: str, messages: list[str]) -> str:
    """One alert: where, which version, how many breaches, what is done, the first breaches."""
    listed = "\n".join(f"- {m}" for m in messages[:MAX_LISTED_BREACHES])
    more = len(messages) - MAX_LISTED_BREACHES
    return (
        f"[{report.environment}] {model_name} v{report.champion_version or '?'}: "
        f"{len(messages)} breach(es) -> action {action}\n{listed}"
        + (f"\n... and {more} more (see the monitoring report)" if more > 0 else "")
    )


def post_alerts(
    report: MonitoringReport,
    config: RunConfig,
    alerter: BaseAlerter | None,
    *,
    scheduled: bool = False,
) -> None:
    """Post one alert per decided action through the stack's alerter; say on each what happened.

    A refused post (wrong token, unknown channel, Slack unreachable) is written into the
    action's detail, which the report, the console and the command's summary show. In a
    `scheduled` run nobody takes the action afterwards: its outcome and the alert say so.
    """
    breaches = report.all_breaches
    for record in report.actions:
        messages = [b.message for b in breaches if b.kind in record.breach_kinds]
        text = alert_text(report, config.model_name, record.action, messages)
        if scheduled and record.action != "none":
            record.outcome = SCHEDULED_OUTCOME.replace("ENV", config.environment)
            text += f"\n({record.outcome})"
        if alerter is None:
            record.detail = "no alerter in the stack: the alert is only in this report"
            continue
        try:
            posted = alerter.post(
                text,
                MonitoringAlertParameters(
                    model_name=config.model_name,
                    version=report.champion_version or "",
                    environment=report.environment,
                    kinds=list(record.breach_kinds),
                    action=record.action,
                ),
            )
        except Exception as error:  # an alerter's own failure must not lose the report
            record.detail = (
                f"alert NOT posted through '{alerter.name}': {type(error).__name__}: {error}"
            )
            continue
        record.detail = (
            f"alert posted through '{alerter.name}'"
            if posted
            else f"alert NOT posted through '{alerter.name}' (the step log has the reason)"
        )
