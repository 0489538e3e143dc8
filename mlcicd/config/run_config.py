"""RunConfig: everything one environment decides, assembled from the domain models.

Also the two checks that need the whole config: pydantic validation with errors that name the
source and the dotted key, and the cross-check of the config against its declared schema.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import Field, ValidationError

from mlcicd.config.base import ConfigError, StrictModel, format_validation_error
from mlcicd.config.console import ConsoleConfig
from mlcicd.config.data import DataConfig
from mlcicd.config.gates import GatesConfig
from mlcicd.config.kubernetes import KubernetesConfig
from mlcicd.config.model import ModelConfig, TrainingConfig
from mlcicd.config.model_card import ModelCardConfig
from mlcicd.config.monitoring import DriftConfig, MonitoringConfig
from mlcicd.config.packaging import PackagingConfig
from mlcicd.config.rollout import RolloutConfig
from mlcicd.config.schema import DataSchema
from mlcicd.config.serving import DeploymentConfig


class RunConfig(StrictModel):
    """Everything one environment decides: stack, data, model, registry name, seed."""

    environment: str
    stack: str
    model_name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    seed: int = 42
    data: DataConfig
    model: ModelConfig = ModelConfig()
    training: TrainingConfig = TrainingConfig()
    gates: GatesConfig = GatesConfig()
    packaging: PackagingConfig = PackagingConfig()
    deployment: DeploymentConfig = DeploymentConfig()
    kubernetes: KubernetesConfig = KubernetesConfig()
    rollout: RolloutConfig = RolloutConfig()
    console: ConsoleConfig = ConsoleConfig()
    drift: DriftConfig = DriftConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    model_card: ModelCardConfig = ModelCardConfig()

    def fingerprint(self) -> str:
        """sha256 of the canonical JSON: equal fingerprints mean equal configs."""
        canonical = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def with_overrides(
        self,
        *,
        seed: int | None = None,
        sample_rows: int | None = None,
        model_type: str | None = None,
    ) -> RunConfig:
        """A copy with command-line overrides applied and validated again."""
        raw = self.model_dump(mode="json", by_alias=True)
        if seed is not None:
            raw["seed"] = seed
        if sample_rows is not None:
            raw["data"]["sample_rows"] = sample_rows
        if model_type is not None:
            raw["model"]["type"] = model_type
        return validate_run_config(raw, "command-line overrides")


def validate_run_config(raw: dict[str, Any], source: str) -> RunConfig:
    """Validate a raw mapping; a failure is a ConfigError naming `source` and every bad key."""
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None


def check_config_against_schema(config: RunConfig, schema: DataSchema) -> None:
    """Every column the config names must exist in the declared schema."""
    names = set(schema.column_names)
    data = config.data
    named = {"data.label": [data.label]}
    named["data.sensitive_features"] = list(data.sensitive_features)
    named["data.exclude_features"] = list(data.exclude_features)
    for key, columns in named.items():
        missing = [c for c in columns if c not in names]
        if missing:
            raise ConfigError(
                f"{key} names column(s) {missing} that schema '{schema.name}' does not declare; "
                f"declared columns: {', '.join(schema.column_names)}"
            )
    _check_sensitive_groups(data, schema)
    label = schema.column(data.label)
    if label.dtype != "categorical" or not label.values or len(label.values) != 2:
        raise ConfigError(
            f"label column '{data.label}' must be declared categorical with exactly two values "
            "(binary classification)"
        )
    if data.positive_class not in label.values:
        raise ConfigError(
            f"data.positive_class '{data.positive_class}' is not one of the label values "
            f"{label.values} declared for '{data.label}'"
        )
    if data.label in data.exclude_features:
        raise ConfigError("data.exclude_features must not contain the label column")


def _check_sensitive_groups(data: DataConfig, schema: DataSchema) -> None:
    """Groups only for sensitive features: bins on numbers, merges of declared categories."""
    for name, groups in data.sensitive_groups.items():
        key = f"data.sensitive_groups.{name}"
        if name not in data.sensitive_features:
            raise ConfigError(
                f"{key}: '{name}' is not in data.sensitive_features "
                f"({', '.join(data.sensitive_features) or 'none'})"
            )
        column = schema.column(name)
        if groups.bins is not None and column.dtype == "categorical":
            raise ConfigError(f"{key}.bins: '{name}' is categorical; group it with merge")
        if groups.merge is not None:
            if column.dtype != "categorical":
                raise ConfigError(f"{key}.merge: '{name}' is numeric; group it with bins")
            unknown = sorted(
                {c for cs in groups.merge.values() for c in cs} - set(column.values or [])
            )
            if unknown:
                raise ConfigError(
                    f"{key}.merge names {unknown}, not declared for '{name}' in schema "
                    f"'{schema.name}' (declared: {', '.join(column.values or [])})"
                )
