"""Typed run configuration: one YAML per environment, validated before anything runs.

Every error names the file and the offending key, so a typo never reaches a pipeline. The models
live in one module per domain; this package is the public face, so callers import from
`mlcicd.config` and never depend on that split.
"""

from __future__ import annotations

from mlcicd.config.base import ConfigError
from mlcicd.config.console import ConsoleConfig
from mlcicd.config.data import (
    CsvOptions,
    DataConfig,
    DataFileConfig,
    GoldenSplit,
    SensitiveGroups,
)
from mlcicd.config.gates import (
    METRIC_DIRECTIONS,
    ChampionGateConfig,
    FairnessGateConfig,
    GatesConfig,
    GoldenRowsGateConfig,
    LatencyGateConfig,
    SanityGateConfig,
    ThresholdGateConfig,
)
from mlcicd.config.kubernetes import (
    GpuConfig,
    KubernetesConfig,
    KubernetesImageConfig,
    KubernetesServingConfig,
    TolerationConfig,
)
from mlcicd.config.loader import available_configs, load_config, resolve_config_path
from mlcicd.config.model import (
    HistGradientBoostingConfig,
    ModelConfig,
    TorchMLPConfig,
    TrainingConfig,
)
from mlcicd.config.model_card import ModelCardConfig
from mlcicd.config.monitoring import (
    CategoricalDriftConfig,
    DriftConfig,
    MonitoringConfig,
    MonitoringThresholds,
    NumericDriftConfig,
)
from mlcicd.config.packaging import PackagingConfig
from mlcicd.config.rollout import (
    AnalysisConfig,
    BlueGreenConfig,
    CanaryConfig,
    CanaryStep,
    RolloutConfig,
    ShadowConfig,
)
from mlcicd.config.run_config import RunConfig, check_config_against_schema
from mlcicd.config.schema import ColumnSpec, DataSchema, RowCountBounds, load_schema
from mlcicd.config.serving import DeploymentConfig, ProductionConfig, StagingConfig

__all__ = [
    "METRIC_DIRECTIONS",
    "AnalysisConfig",
    "BlueGreenConfig",
    "CanaryConfig",
    "CanaryStep",
    "CategoricalDriftConfig",
    "ChampionGateConfig",
    "ColumnSpec",
    "ConfigError",
    "ConsoleConfig",
    "CsvOptions",
    "DataConfig",
    "DataFileConfig",
    "DataSchema",
    "DeploymentConfig",
    "DriftConfig",
    "FairnessGateConfig",
    "GatesConfig",
    "GoldenRowsGateConfig",
    "GoldenSplit",
    "GpuConfig",
    "HistGradientBoostingConfig",
    "KubernetesConfig",
    "KubernetesImageConfig",
    "KubernetesServingConfig",
    "LatencyGateConfig",
    "ModelCardConfig",
    "ModelConfig",
    "MonitoringConfig",
    "MonitoringThresholds",
    "NumericDriftConfig",
    "PackagingConfig",
    "ProductionConfig",
    "RolloutConfig",
    "RowCountBounds",
    "RunConfig",
    "SanityGateConfig",
    "SensitiveGroups",
    "ShadowConfig",
    "StagingConfig",
    "ThresholdGateConfig",
    "TolerationConfig",
    "TorchMLPConfig",
    "TrainingConfig",
    "available_configs",
    "check_config_against_schema",
    "load_config",
    "load_schema",
    "resolve_config_path",
]
