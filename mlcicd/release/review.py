"""Everything a reviewer sees about one version, read from the registry and its MLflow run.

The console renders this bundle and holds no logic of its own: the report is the stored
EvaluationReport (verified against its sha256), the decision is the one approvals.py recorded,
and the smoke-test results are the ones the deploy steps logged.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcicd.registry.reports import MODEL_CARD_ARTIFACT
from mlcicd.registry.versions import VersionInfo
from mlcicd.release.approvals import (
    ApprovalError,
    Decision,
    current_report,
    recorded_decision,
    require_version,
    staging_verdict,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from mlcicd.reporting.model import EvaluationReport

LINEAGE_TAGS = (
    "git_sha",
    "git_dirty",
    "data_fingerprint",
    "config_fingerprint",
    "environment",
    "stack",
    "zenml_run_name",
    "zenml_run_id",
    "mlflow_run_id",
    "model_type",
    "training_device_name",
)
STAGING_SMOKE_ARTIFACT = "deployment/staging_smoke_test.json"
SHADOW_ARTIFACT = "deployment/shadow_report.json"
DATA_DOCS_DIR = "data_validation/data_docs"


@dataclass
class VersionReview:
    """One version as the review page shows it."""

    info: VersionInfo
    report: EvaluationReport | None
    report_error: str
    decision: Decision | None
    lineage: dict[str, str]
    staging_smoke: str  # "passed", "failed" or "not run"
    staging_smoke_results: list[dict[str, Any]] = field(default_factory=list)
    shadow: dict[str, Any] | None = None
    data_docs: str = ""  # artifact URI of the Data Docs index page, if logged
    model_card: str = ""  # the Markdown card registered with the version; '' for older ones

    @property
    def report_sha256(self) -> str:
        """sha256 of the report shown; what an approval records."""
        return self.report.sha256() if self.report is not None else ""


def _json_artifact(client: MlflowClient, run_id: str, path: str) -> Any:
    text = _text_artifact(client, run_id, path)
    try:
        return json.loads(text) if text is not None else None
    except ValueError:
        return None


def _text_artifact(client: MlflowClient, run_id: str, path: str) -> str | None:
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = client.download_artifacts(run_id, path, tmp)
            return Path(local).read_text(encoding="utf-8")
        except (MlflowException, OSError, ValueError):
            return None


def _data_docs_index(client: MlflowClient, run_id: str) -> str:
    from mlflow.exceptions import MlflowException

    try:
        queue = [DATA_DOCS_DIR]
        while queue:
            folder = queue.pop(0)
            for item in client.list_artifacts(run_id, folder):
                if item.is_dir:
                    queue.append(item.path)
                elif item.path.endswith("index.html"):
                    return f"{client.get_run(run_id).info.artifact_uri}/{item.path}"
    except MlflowException:
        return ""
    return ""


def load_version_review(client: MlflowClient, model_name: str, version: str) -> VersionReview:
    """Read one version's review bundle; an unreadable report is an error message, not a crash."""
    info = require_version(client, model_name, version)
    report: EvaluationReport | None = None
    error = ""
    try:
        report = current_report(client, model_name, info.version)
    except ApprovalError as exc:
        error = str(exc)
    run_id = info.tags.get("mlflow_run_id") or info.run_id or ""
    smoke = _json_artifact(client, run_id, STAGING_SMOKE_ARTIFACT) if run_id else None
    shadow = _json_artifact(client, run_id, SHADOW_ARTIFACT) if run_id else None
    verdict = staging_verdict(model_name, info.version)  # the store's, not a (writable) tag
    staging = {"staging_passed": "passed", "staging_failed": "failed"}.get(
        verdict.event if verdict else "", ""
    )
    return VersionReview(
        info=info,
        report=report,
        report_error=error,
        decision=recorded_decision(model_name, info.version),
        lineage={k: info.tags[k] for k in LINEAGE_TAGS if k in info.tags},
        staging_smoke=staging or "not run",
        staging_smoke_results=smoke if isinstance(smoke, list) else [],
        shadow=shadow if isinstance(shadow, dict) else None,
        data_docs=_data_docs_index(client, run_id) if run_id else "",
        model_card=(_text_artifact(client, run_id, MODEL_CARD_ARTIFACT) or "") if run_id else "",
    )
