"""The monitoring pipeline on a schedule: a ZenML Schedule, a CronJob on Kubernetes.

`python run.py --env production monitor --schedule` submits it (Kubernetes stacks only: ZenML's
local orchestrator cannot schedule; locally, cron or the monitor.yml workflow runs
`run.py monitor`). The dry run writes the CronJob the orchestrator would create, built with the
orchestrator's own manifest functions. Each scheduled run looks back
`monitoring.schedule.since` and alerts; the actions stay with `run.py monitor`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlcicd.config import DataSchema, RunConfig
from mlcicd.errors import PipelineInputError
from mlcicd.stack.pod_settings import ORCHESTRATOR_SETTINGS_KEY, RunOptions, is_kubernetes_stack


def schedule_name(config: RunConfig) -> str:
    """One schedule per model and environment, so a second `--schedule` is found by name."""
    return f"{config.model_name}-monitoring-{config.environment}"


def monitoring_arguments(config: RunConfig, schema: DataSchema) -> dict[str, Any]:
    """The pipeline's arguments for a scheduled run: a look-back resolved at each start."""
    return {
        "config": config,
        "schema": schema,
        "since": config.monitoring.schedule.since,
        "until": None,
        "labels_path": None,
        "scheduled": True,
    }


def with_schedule_settings(config: RunConfig, options: RunOptions) -> RunOptions:
    """The stack's run options plus the CronJob's policy (no overlapping runs, bounded history)."""
    schedule = config.monitoring.schedule
    settings = dict(options.settings)
    orchestrator = settings.get(ORCHESTRATOR_SETTINGS_KEY)
    if orchestrator is not None:
        settings[ORCHESTRATOR_SETTINGS_KEY] = orchestrator.model_copy(
            update={
                "concurrency_policy": schedule.concurrency_policy,
                "starting_deadline_seconds": schedule.starting_deadline_seconds,
                "successful_jobs_history_limit": schedule.history_limit,
                "failed_jobs_history_limit": schedule.history_limit,
            }
        )
    return RunOptions(settings=settings, steps=options.steps)


def schedule_monitoring(
    config: RunConfig, schema: DataSchema, stack_name: str, say: Callable[[str], None]
) -> str:
    """Submit the scheduled monitoring pipeline; the schedule's name."""
    from zenml.client import Client
    from zenml.config.schedule import Schedule

    from mlcicd.stack.active import activate_stack
    from mlcicd.stack.loader import load_stack_spec
    from mlcicd.stack.pod_settings import run_options
    from pipelines.monitoring import monitoring_pipeline

    spec = load_stack_spec(stack_name)
    if not is_kubernetes_stack(spec):
        raise PipelineInputError(
            f"stack '{stack_name}' cannot run a schedule (ZenML's local orchestrator does not "
            "schedule): run `python run.py --env "
            f"{config.environment} monitor` from cron (`{config.monitoring.schedule.cron}`) or "
            "let the monitor.yml workflow run it"
        )
    name = schedule_name(config)
    activate_stack(stack_name, config.environment)
    client = Client()
    try:
        existing = client.get_schedule(name, allow_name_prefix_match=False)
    except KeyError:
        existing = None
    if existing is not None:
        raise PipelineInputError(
            f"schedule '{name}' exists already (cron '{existing.cron_expression}'): change its "
            f"time with `zenml pipeline schedule update {name} --cron-expression '...'`, or "
            f"remove it (and its CronJob) with `zenml pipeline schedule delete {name}` and "
            "schedule again to pick up new code or settings"
        )
    arguments = monitoring_arguments(config, schema)
    probe = monitoring_pipeline.copy()
    probe.prepare(**arguments)
    options = with_schedule_settings(
        config, run_options(config, spec, step_names=list(probe.invocations), strict=False)
    )
    schedule = Schedule(name=name, cron_expression=config.monitoring.schedule.cron)
    monitoring_pipeline.with_options(
        schedule=schedule, settings=options.settings, steps=options.steps
    )(**arguments)
    say(
        f"scheduled '{name}': the monitoring pipeline runs at '{schedule.cron_expression}' "
        f"(a CronJob in the orchestrator's namespace), each run over the last "
        f"{config.monitoring.schedule.since}"
    )
    return name


def cron_job(stack: Any, snapshot: Any, cron_expression: str, image: str) -> dict[str, Any]:
    """The CronJob the Kubernetes orchestrator would create for a scheduled snapshot.

    Same functions as ZenML 0.98's `_submit_orchestrator_job` for a schedule, minus run-time
    values (snapshot id, a random job-name part, the server token).
    """
    from kubernetes.client import ApiClient
    from zenml.integrations.kubernetes.manifest_utils import (
        build_cron_job_manifest,
        job_template_manifest_from_job,
    )

    from mlcicd.runner.submission import orchestrator_job

    settings = stack.orchestrator.get_settings(snapshot)
    job = orchestrator_job(stack, snapshot, image)
    manifest = build_cron_job_manifest(
        cron_expression=cron_expression,
        job_template=job_template_manifest_from_job(job),
        successful_jobs_history_limit=settings.successful_jobs_history_limit,
        failed_jobs_history_limit=settings.failed_jobs_history_limit,
        concurrency_policy=settings.concurrency_policy,
        starting_deadline_seconds=settings.starting_deadline_seconds,
    )
    document: dict[str, Any] = ApiClient().sanitize_for_serialization(manifest)
    document["metadata"]["namespace"] = stack.orchestrator.config.kubernetes_namespace
    return document
