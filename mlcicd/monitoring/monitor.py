"""One monitoring run: read the request log, fill windows, judge them, note a data change.

`monitoring_context` reads what the registry knows about the champion (its reference profile,
its smoke-tested latency, the data it was trained on); `build_monitoring_report` streams the
log through per-window accumulators. Both are called by the monitoring pipeline's step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mlcicd.config import DataSchema, RunConfig
from mlcicd.data.loading import data_fingerprint, feature_columns
from mlcicd.data.profile import ReferenceProfile
from mlcicd.errors import PipelineInputError
from mlcicd.monitoring.judge import judge_window
from mlcicd.monitoring.logs import ReadStats, StorageOptions, expand_sources, iter_entry_chunks
from mlcicd.monitoring.windows import WindowAccumulator, window_start
from mlcicd.registry.profiles import stored_profile
from mlcicd.registry.versions import get_version, version_by_alias
from mlcicd.reporting.monitoring import Breach, MonitoringReport

if TYPE_CHECKING:
    from mlflow import MlflowClient


@dataclass(frozen=True)
class MonitoringContext:
    """What the champion brings to a monitoring run."""

    champion: str | None
    profile: ReferenceProfile | None
    latency_baseline_ms: float | None
    trained_on: str | None  # the champion's data fingerprint
    note: str = ""


def _float_tag(tags: Mapping[str, str], *keys: str) -> float | None:
    for key in keys:
        try:
            value = float(tags.get(key, ""))
        except ValueError:
            continue
        if math.isfinite(value) and value > 0:
            return value
    return None


def monitoring_context(
    client: MlflowClient, config: RunConfig, environment: str
) -> MonitoringContext:
    """The champion's profile and baselines; without a champion, traffic is still judged."""
    alias = "champion" if environment == "production" else "staging"
    version = version_by_alias(client, config.model_name, alias)
    if version is None:
        return MonitoringContext(
            None, None, None, None, f"no version holds '{alias}': drift and online metrics "
            "need a reference profile"
        )  # fmt: skip
    info = get_version(client, config.model_name, version)
    tags = info.tags if info is not None else {}
    try:
        profile: ReferenceProfile | None = stored_profile(client, config.model_name, version)
        note = ""
    except PipelineInputError as error:
        profile, note = None, str(error)
    return MonitoringContext(
        champion=version,
        profile=profile,
        latency_baseline_ms=_float_tag(tags, f"{environment}_smoke_p95_ms", "staging_smoke_p95_ms"),
        trained_on=tags.get("data_fingerprint"),
        note=note,
    )


def data_change_breach(config: RunConfig, context: MonitoringContext) -> Breach | None:
    """The configured training data is not what the champion was trained on: a retrain is due."""
    if context.champion is None or not context.trained_on:
        return None
    current = data_fingerprint(config.data)
    if current == context.trained_on:
        return None
    return Breach(
        kind="data_change",
        metric="data_fingerprint",
        value=None,
        threshold=None,
        config_key="monitoring.on_data_change",
        message=(
            f"the training data changed since champion v{context.champion} was trained "
            f"(fingerprint {context.trained_on[:12]} -> {current[:12]})"
        ),
    )


def build_monitoring_report(
    config: RunConfig,
    schema: DataSchema,
    context: MonitoringContext,
    sources: Sequence[str],
    since: datetime,
    until: datetime,
    labels: Mapping[tuple[str, int], bool] | None = None,
    now: datetime | None = None,
    storage_options: StorageOptions | None = None,
) -> MonitoringReport:
    """Stream every source once; one window per `monitoring.window_minutes` with traffic."""
    monitoring = config.monitoring
    limits = monitoring.thresholds
    files = expand_sources(sources, since, until, storage_options)
    features = feature_columns(config.data, schema)
    stats = ReadStats()
    windows: dict[datetime, WindowAccumulator] = {}
    positive = config.data.positive_class
    for chunk in iter_entry_chunks(
        files, since, until, monitoring.chunk_rows, stats, storage_options
    ):
        touched: set[datetime] = set()
        for at, entry in chunk:
            if entry.get("model_name") not in (None, "", config.model_name):
                stats.other_models += 1  # several models can share a serving folder
                continue
            start = window_start(at, monitoring.window_minutes)
            window = windows.get(start)
            if window is None:
                window = WindowAccumulator(
                    start, monitoring.window_minutes, context.profile, features
                )
                windows[start] = window
            window.add(entry, labels, positive)
            touched.add(start)
        for start in touched:
            windows[start].flush()
    results = []
    for start in sorted(windows):
        judged = windows[start].result(
            config.drift,
            limits.max_prediction_psi,
            limits.min_rows,
            limits.min_labelled_rows,
            context.champion,
            labels is not None,
        )
        judged.breaches = judge_window(judged, limits, context.latency_baseline_ms)
        results.append(judged)
    notes = [context.note] if context.note else []
    if not files:
        notes.append(f"no request log found at {', '.join(sources)}")
    elif not results:
        notes.append("no request in the time range")
    return MonitoringReport(
        model_name=config.model_name,
        environment=monitoring.environment,
        champion_version=context.champion,
        created_at=(now or datetime.now(UTC)).isoformat(timespec="seconds"),
        since=since.isoformat(timespec="seconds"),
        until=until.isoformat(timespec="seconds"),
        window_minutes=monitoring.window_minutes,
        sources=files,
        lines_read=stats.lines,
        lines_skipped=stats.skipped,
        latency_baseline_ms=context.latency_baseline_ms,
        windows=results,
        note="; ".join(notes),
    )
