"""The reference profile stored with a registered version, verified by its sha256 tag.

Logged at registration; read back by the drift check before training and by the monitor.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from mlcicd.data.profile import ReferenceProfile, load_profile
from mlcicd.errors import PipelineInputError

if TYPE_CHECKING:
    from mlflow import MlflowClient

PROFILE_ARTIFACT = "monitoring/reference_profile.json"
PROFILE_SHA_TAG = "reference_profile_sha256"


def log_profile(profile: ReferenceProfile) -> dict[str, str]:
    """Log the profile into the active MLflow run; returns the tags for the version."""
    import mlflow

    mlflow.log_text(profile.canonical_json(), PROFILE_ARTIFACT)
    return {PROFILE_SHA_TAG: profile.sha256(), "reference_profile_artifact": PROFILE_ARTIFACT}


def stored_profile(client: MlflowClient, model_name: str, version: str) -> ReferenceProfile:
    """The profile of a version, checked against its tag; a clear error when there is none.

    Versions registered before profiles existed have none: the message says to register a new
    version (or to switch the drift check off) rather than failing somewhere deep.
    """
    from mlflow.exceptions import MlflowException

    try:
        mv = client.get_model_version(model_name, version)
    except MlflowException:
        raise PipelineInputError(f"model '{model_name}' has no version {version}") from None
    expected = (mv.tags or {}).get(PROFILE_SHA_TAG)
    run_id = (mv.tags or {}).get("mlflow_run_id") or mv.run_id
    if not expected or not run_id:
        raise PipelineInputError(
            f"version {version} of '{model_name}' has no reference profile (tag "
            f"{PROFILE_SHA_TAG}); it was registered before profiles were recorded: register a "
            "new version, or set drift.enabled: false"
        )
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = client.download_artifacts(run_id, PROFILE_ARTIFACT, tmp)
        except (MlflowException, OSError):
            raise PipelineInputError(
                f"version {version} of '{model_name}' records a reference profile, but its "
                f"run {run_id} has no {PROFILE_ARTIFACT}"
            ) from None
        text = Path(path).read_text(encoding="utf-8")
    try:
        profile = load_profile(text)
    except ValueError as error:
        raise PipelineInputError(
            f"the reference profile of version {version} cannot be read: {error}"
        ) from None
    if profile.sha256() != expected:
        raise PipelineInputError(
            f"the reference profile of version {version} does not match its recorded sha256"
        )
    return profile
