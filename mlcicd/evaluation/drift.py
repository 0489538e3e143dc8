"""Drift before training: the new batch against the current champion's reference profile."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from mlcicd.config import RunConfig
from mlcicd.data.drift import batch_drift
from mlcicd.errors import PipelineInputError
from mlcicd.registry.profiles import stored_profile
from mlcicd.registry.versions import version_by_alias
from mlcicd.reporting.drift import DriftReport

if TYPE_CHECKING:
    from mlflow import MlflowClient


def training_batch_drift(
    client: MlflowClient, config: RunConfig, batch: pd.DataFrame
) -> DriftReport:
    """Every profiled column of the batch (label included) against the champion's profile.

    Without a champion there is nothing to compare with, and the report says so. A champion
    without a readable profile is an error when the config blocks on drift (the check cannot be
    done) and a note when it only warns.
    """
    drift = config.drift
    if not drift.enabled:
        return DriftReport(
            on_drift=drift.on_drift, note="drift check is off (drift.enabled: false)"
        )
    champion = version_by_alias(client, config.model_name, "champion")
    if champion is None:
        return DriftReport(
            on_drift=drift.on_drift, note="no champion yet: nothing to compare the batch with"
        )
    try:
        profile = stored_profile(client, config.model_name, champion)
    except PipelineInputError as error:
        if drift.on_drift == "block":
            raise
        return DriftReport(on_drift=drift.on_drift, reference_version=champion, note=str(error))
    columns = [c.name for c in profile.columns if c.name in batch.columns]
    return batch_drift(profile, [batch], drift, champion, columns)


def drift_rejection(report: DriftReport) -> str | None:
    """The message that stops the run, or None when nothing blocks."""
    if report.on_drift != "block" or not report.drifted_features:
        return None
    lines = [
        f"the training batch drifted from the reference profile of champion "
        f"v{report.reference_version} ({len(report.drifted_features)} column(s); "
        "drift.on_drift is block):"
    ]
    for feature in report.drifted_features:
        lines.append(
            f"  - {feature.feature}: {feature.reason} (PSI {feature.psi:.3f}, "
            f"{feature.distance_name} {feature.distance:.3f}, p={feature.p_value:.2g}, "
            f"missing {feature.current_missing_rate:.1%} vs {feature.reference_missing_rate:.1%})"
        )
    lines.append(
        "if the change is expected, train with drift.on_drift: warn once so the new version "
        "becomes the reference after its approval"
    )
    return "\n".join(lines)
