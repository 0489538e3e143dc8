"""The console's one connection to the project: config, active stack, MLflow client, cached reads.

The stack is activated once per server process (st.cache_resource), exactly as run.py does;
registry reads are cached for a few seconds so that page switches stay fast, and are cleared
after every decision or release. Each environment gets one metrics sampler per server process,
started the first time the Deployments page shows it, so its plots cover the time since then.
Nothing here decides anything: it calls the library functions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import streamlit as st

from mlcicd.config import RunConfig

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from mlcicd.registry.versions import VersionInfo
    from mlcicd.release.approvals import Candidate
    from mlcicd.release.audit import AuditEvent
    from mlcicd.release.review import VersionReview
    from mlcicd.reporting.monitoring import MonitoringReport
    from mlcicd.serving.contract import EndpointStatus, TrafficControl
    from mlcicd.serving.metrics.history import MetricsSampler

ENV_CONFIG = "ML_CICD_CONFIG"
ENV_STACK = "ML_CICD_STACK"
SAMPLE_INTERVAL_S = 5.0  # how often the Deployments page's traffic plots get a new point


@dataclass(frozen=True)
class ConsoleContext:
    """What every page needs: the environment config and where the registry is."""

    config: RunConfig
    config_ref: str
    stack: str
    stack_arg: str | None
    tracking_uri: str


@st.cache_resource(show_spinner="Connecting to the ZenML stack and the MLflow registry ...")
def context() -> ConsoleContext:
    """Load the config named by ML_CICD_CONFIG (default: local) and activate its stack, once."""
    from mlcicd.stack.active import active_tracking_uri, open_environment

    config_ref = os.environ.get(ENV_CONFIG, "local")
    stack_arg = os.environ.get(ENV_STACK) or None
    environment = open_environment(config_ref, stack_arg, activate=True)
    return ConsoleContext(
        environment.config, config_ref, environment.stack, stack_arg, active_tracking_uri()
    )


@st.cache_resource
def client() -> MlflowClient:
    """One MLflow client per server process."""
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=context().tracking_uri)


@st.cache_data(ttl=10, show_spinner="Reading pending versions ...")
def pending(model_name: str) -> list[Candidate]:
    """Versions awaiting a decision (cached briefly)."""
    from mlcicd.release.approvals import pending_candidates

    return pending_candidates(client(), model_name)


@st.cache_data(ttl=10, show_spinner="Reading the version and its report ...")
def version_review(model_name: str, version: str) -> VersionReview:
    """One version's review bundle (cached briefly)."""
    from mlcicd.release.review import load_version_review

    return load_version_review(client(), model_name, version)


@st.cache_data(ttl=10, show_spinner=False)
def versions(model_name: str) -> list[VersionInfo]:
    """All versions with aliases and tags (cached briefly)."""
    from mlcicd.registry.versions import list_versions

    return list_versions(client(), model_name)


@st.cache_data(ttl=5, show_spinner=False)
def endpoint_status(environment: str) -> EndpointStatus:
    """What serves in one environment, and whether it is healthy (cached briefly)."""
    from mlcicd.serving.backends import serving_backend

    return serving_backend(context().config).status(environment)


@st.cache_resource(show_spinner=False)
def traffic() -> TrafficControl:
    """The active stack's traffic controls (local router or Kubernetes), one per server process."""
    from mlcicd.serving.backends import serving_backend

    return serving_backend(context().config).traffic()


@st.cache_data(ttl=5, show_spinner=False)
def rollout(environment: str) -> dict[str, Any] | None:
    """The environment's rollout record as the engine last wrote it (cached briefly).

    Read on its own: the endpoint status leaves it out when nothing serves.
    """
    return traffic().read_rollout(environment)


def _stop_sampler(sampler: MetricsSampler) -> None:
    """A sampler dropped from the cache must not keep reading in the background."""
    sampler.stop(timeout=1.0)


@st.cache_resource(show_spinner=False, on_release=_stop_sampler)
def metrics_sampler(environment: str) -> MetricsSampler:
    """One background sampler per environment and server process, started on first use."""
    from mlcicd.serving.metrics.history import MetricsSampler

    control, model_name = traffic(), context().config.model_name

    def versions() -> dict[str, str]:
        return {v.version: v.role for v in control.status(environment).variants}

    sampler = MetricsSampler(
        lambda: control.metrics_source(environment, model_name),
        versions,
        interval_seconds=SAMPLE_INTERVAL_S,
        name=f"metrics-sampler-{environment}",
    )
    sampler.start()
    return sampler


def events(model_name: str) -> list[AuditEvent]:
    """The audit log of one model (a local file read; not cached, so it is always current)."""
    from mlcicd.release.audit import read_events

    return read_events(model_name)


@st.cache_data(ttl=10, show_spinner="Reading monitoring reports ...")
def monitoring_reports(
    model_name: str, environment: str, limit: int = 12
) -> list[tuple[str, MonitoringReport]]:
    """The newest monitoring runs of one environment, newest first (cached briefly)."""
    from mlcicd.monitoring.history import recent_reports

    return recent_reports(client(), model_name, environment, limit)


def refresh() -> None:
    """Forget cached reads after anything changed state."""
    st.cache_data.clear()


def selected_version() -> str:
    """The version named in the URL (?version=N), shared by the review and decision pages."""
    value: Any = st.query_params.get("version", "")
    return str(value).strip()
