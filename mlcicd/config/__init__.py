"""Typed run configuration: one YAML per environment, validated before anything runs.

Every error here names the file and the offending key, so a typo never reaches a pipeline.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlcicd.paths import CONFIG_DIR, REPO_ROOT


class ConfigError(Exception):
    """A configuration file is missing, malformed or inconsistent."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RowCountBounds(_Strict):
    """Bounds on the number of rows a batch may have."""

    min: int = Field(1, ge=0)
    max: int | None = Field(None, ge=1)


class ColumnSpec(_Strict):
    """Declared type and domain of one column."""

    name: str
    dtype: Literal["integer", "float", "categorical"]
    nullable: bool = False
    values: list[str] | None = None
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _domain_matches_dtype(self) -> ColumnSpec:
        if self.dtype == "categorical":
            if not self.values:
                raise ValueError(
                    f"categorical column '{self.name}' needs a non-empty 'values' list"
                )
            if self.min is not None or self.max is not None:
                raise ValueError(f"categorical column '{self.name}' cannot have min/max")
        elif self.values is not None:
            raise ValueError(f"numeric column '{self.name}' cannot have 'values'")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"column '{self.name}': min {self.min} is above max {self.max}")
        return self


class DataSchema(_Strict):
    """The declared contract every batch must satisfy (checked by the data gate)."""

    name: str
    row_count: RowCountBounds = RowCountBounds()
    columns: list[ColumnSpec]

    @model_validator(mode="after")
    def _unique_columns(self) -> DataSchema:
        names = [c.name for c in self.columns]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate column names in schema: {duplicates}")
        return self

    def column(self, name: str) -> ColumnSpec:
        """Look a column up by name."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def column_names(self) -> list[str]:
        """Column names in declared order."""
        return [c.name for c in self.columns]


class DataFileConfig(_Strict):
    """One data file and the rows to skip before its records start."""

    path: str
    skip_rows: int = Field(0, ge=0)

    def resolved(self) -> Path:
        """Absolute path; relative paths are relative to the repository root."""
        p = Path(self.path).expanduser()
        return p if p.is_absolute() else REPO_ROOT / p


class CsvOptions(_Strict):
    """How to parse CSV files (ignored for Parquet)."""

    header: bool = True
    separator: str = ","
    skip_initial_space: bool = True
    na_values: list[str] = Field(default_factory=list)


class DataConfig(_Strict):
    """Where the data comes from and what its columns mean."""

    format: Literal["csv", "parquet"] = "csv"
    train: DataFileConfig
    golden: DataFileConfig
    csv: CsvOptions = CsvOptions()
    schema_path: str = Field(alias="schema")
    label: str
    positive_class: str
    label_aliases: dict[str, str] = Field(default_factory=dict)
    sensitive_features: list[str] = Field(default_factory=list)
    exclude_features: list[str] = Field(default_factory=list)
    validation_fraction: float = Field(0.2, gt=0.0, lt=0.9)
    sample_rows: int | None = Field(None, ge=10)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def schema_file(self) -> Path:
        """Absolute path of the declared schema file."""
        p = Path(self.schema_path)
        return p if p.is_absolute() else REPO_ROOT / p


class TorchMLPConfig(_Strict):
    """Hyperparameters of the PyTorch tabular MLP."""

    hidden_units: list[Annotated[int, Field(ge=1)]] = Field(default_factory=lambda: [128, 64])
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    learning_rate: float = Field(1e-3, gt=0.0)
    weight_decay: float = Field(1e-4, ge=0.0)
    batch_size: int = Field(256, ge=1)
    gpu_batch_size: int = Field(1024, ge=1)
    max_epochs: int = Field(40, ge=1)
    patience: int = Field(5, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"


class HistGradientBoostingConfig(_Strict):
    """Hyperparameters of scikit-learn's HistGradientBoostingClassifier."""

    learning_rate: float = Field(0.1, gt=0.0)
    max_iter: int = Field(300, ge=1)
    max_leaf_nodes: int = Field(31, ge=2)
    l2_regularization: float = Field(0.0, ge=0.0)
    patience: int = Field(10, ge=1)


class ModelConfig(_Strict):
    """Which model to train and its hyperparameters."""

    type: Literal["torch_mlp", "hist_gradient_boosting", "baseline"] = "torch_mlp"
    torch_mlp: TorchMLPConfig = TorchMLPConfig()
    hist_gradient_boosting: HistGradientBoostingConfig = HistGradientBoostingConfig()

    def hyperparameters(self) -> dict[str, Any]:
        """The hyperparameters of the selected model only."""
        if self.type == "baseline":
            return {"model_type": self.type, "strategy": "prior"}
        chosen: BaseModel = getattr(self, self.type)
        return {"model_type": self.type, **chosen.model_dump()}


# Golden-set metrics the gates can name, and whether a higher value is better.
METRIC_DIRECTIONS: dict[str, bool] = {
    "accuracy": True,
    "roc_auc": True,
    "f1": True,
    "precision": True,
    "recall": True,
    "log_loss": False,
}


def _known_metrics(names: list[str], key: str) -> None:
    unknown = [n for n in names if n not in METRIC_DIRECTIONS]
    if unknown:
        raise ValueError(
            f"{key} names unknown metric(s) {unknown}; known: {', '.join(METRIC_DIRECTIONS)}"
        )


class ThresholdGateConfig(_Strict):
    """Absolute minimums (or maximums, for losses) on golden-set metrics."""

    enabled: bool = True
    minimums: dict[str, float] = Field(
        default_factory=lambda: {"roc_auc": 0.90, "accuracy": 0.84, "f1": 0.60}
    )
    maximums: dict[str, float] = Field(default_factory=lambda: {"log_loss": 0.36})

    @model_validator(mode="after")
    def _metrics_exist(self) -> ThresholdGateConfig:
        _known_metrics(list(self.minimums), "minimums")
        _known_metrics(list(self.maximums), "maximums")
        return self


class ChampionGateConfig(_Strict):
    """The challenger must beat the current champion on the same golden set."""

    enabled: bool = True
    primary_metric: str = "roc_auc"
    min_improvement: float = 0.0
    tolerance: float = Field(0.01, ge=0.0)
    guarded_metrics: list[str] = Field(default_factory=lambda: ["accuracy", "f1", "log_loss"])

    @model_validator(mode="after")
    def _metrics_exist(self) -> ChampionGateConfig:
        _known_metrics([self.primary_metric, *self.guarded_metrics], "champion gate")
        return self


class FairnessGateConfig(_Strict):
    """Group-fairness bounds per sensitive feature (fairlearn)."""

    enabled: bool = True
    max_demographic_parity_difference: float = Field(0.25, ge=0.0, le=1.0)
    max_equalized_odds_difference: float = Field(0.20, ge=0.0, le=1.0)
    min_group_size: int = Field(200, ge=1)


class LatencyGateConfig(_Strict):
    """Serving speed of the packaged model, measured in-process with warm-up."""

    enabled: bool = True
    max_p95_ms: float = Field(50.0, gt=0.0)
    max_p99_ms: float = Field(100.0, gt=0.0)
    min_batch_rows_per_second: float = Field(2000.0, gt=0.0)
    max_slowdown_vs_champion: float = Field(3.0, ge=1.0)
    warmup_requests: int = Field(20, ge=0)
    single_row_requests: int = Field(200, ge=10)
    batch_size: int = Field(1024, ge=1)
    batch_repeats: int = Field(5, ge=1)


class GoldenRowsGateConfig(_Strict):
    """Canonical rows whose predictions must not flip versus the champion."""

    enabled: bool = True
    path: str | None = None
    max_flips: int = Field(2, ge=0)

    @model_validator(mode="after")
    def _path_when_enabled(self) -> GoldenRowsGateConfig:
        if self.enabled and not self.path:
            raise ValueError("the golden_rows gate is enabled but has no 'path'")
        return self

    def resolved(self) -> Path:
        """Absolute path; relative paths are relative to the repository root."""
        p = Path(self.path or "").expanduser()
        return p if p.is_absolute() else REPO_ROOT / p


class SanityGateConfig(_Strict):
    """The model must have trained at all: finite, decreasing loss and a non-constant output."""

    enabled: bool = True
    min_probability_std: float = Field(0.01, ge=0.0)
    max_loss_ratio: float = Field(1.0, gt=0.0)


class GatesConfig(_Strict):
    """Every gate, each with its own switch; turning one off is a config change, never code."""

    thresholds: ThresholdGateConfig = ThresholdGateConfig()
    champion: ChampionGateConfig = ChampionGateConfig()
    fairness: FairnessGateConfig = FairnessGateConfig()
    latency: LatencyGateConfig = LatencyGateConfig()
    # no default path: a project without canonical rows must say so (enabled: false)
    golden_rows: GoldenRowsGateConfig = GoldenRowsGateConfig(enabled=False)
    sanity: SanityGateConfig = SanityGateConfig()


class StagingConfig(_Strict):
    """Deploy every registered version to staging and smoke-test it before `staging` moves."""

    enabled: bool = True
    smoke_requests: int = Field(20, ge=1)
    smoke_p95_ms: float = Field(250.0, gt=0.0)
    probability_tolerance: float = Field(1e-6, ge=0.0)


class ProductionConfig(_Strict):
    """Smoke test of an approved version on the production endpoint before `champion` moves."""

    smoke_requests: int = Field(20, ge=1)
    smoke_p95_ms: float = Field(250.0, gt=0.0)
    probability_tolerance: float = Field(1e-6, ge=0.0)


class DeploymentConfig(_Strict):
    """Where models are served; ports apply to the local backend (processes on 127.0.0.1)."""

    staging: StagingConfig = StagingConfig()
    production: ProductionConfig = ProductionConfig()
    local_ports: dict[str, int] = Field(
        default_factory=lambda: {"staging": 8601, "production": 8602}
    )
    max_rows: int = Field(10_000, ge=1)

    @model_validator(mode="after")
    def _distinct_ports(self) -> DeploymentConfig:
        ports = list(self.local_ports.values())
        if len(set(ports)) != len(ports):
            raise ValueError(
                f"deployment.local_ports must differ per environment: {self.local_ports}"
            )
        if not {"staging", "production"} <= set(self.local_ports):
            raise ValueError("deployment.local_ports needs 'staging' and 'production'")
        if any(not 1024 <= p <= 65535 for p in ports):
            raise ValueError("deployment.local_ports must be between 1024 and 65535")
        return self


_QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$"


def _check_resources(resources: dict[str, dict[str, str]], key: str) -> None:
    unknown = set(resources) - {"requests", "limits"}
    if unknown:
        raise ValueError(f"{key} may only hold 'requests' and 'limits', got {sorted(unknown)}")
    for kind, values in resources.items():
        for name, quantity in values.items():
            if not re.match(_QUANTITY, str(quantity)):
                raise ValueError(
                    f"{key}.{kind}.{name}: {quantity!r} is not a Kubernetes quantity "
                    "(e.g. '500m', '4', '16Gi')"
                )


class TolerationConfig(_Strict):
    """A Kubernetes toleration, so GPU pods may land on tainted GPU nodes."""

    key: str
    operator: Literal["Exists", "Equal"] = "Exists"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = "NoSchedule"

    @model_validator(mode="after")
    def _value_matches_operator(self) -> TolerationConfig:
        if self.operator == "Exists" and self.value is not None:
            raise ValueError(f"toleration '{self.key}': operator Exists takes no value")
        if self.operator == "Equal" and self.value is None:
            raise ValueError(f"toleration '{self.key}': operator Equal needs a value")
        return self


class GpuConfig(_Strict):
    """GPUs for the steps that train, requested through the orchestrator's pod settings.

    ZenML 0.98's Kubernetes orchestrator ignores ResourceSettings(gpu_count=...), so this is the
    only way a step pod gets a GPU. count 0 runs every step on CPU nodes.
    """

    count: int = Field(1, ge=0)
    resource_name: str = "nvidia.com/gpu"
    steps: list[str] = Field(default_factory=lambda: ["train_model"])
    node_selector: dict[str, str] = Field(
        default_factory=lambda: {"nvidia.com/gpu.present": "true"}
    )
    tolerations: list[TolerationConfig] = Field(
        default_factory=lambda: [TolerationConfig(key="nvidia.com/gpu")]
    )


class KubernetesImageConfig(_Strict):
    """The step image: ZenML builds it on a parent image with the locked requirements."""

    # Built first (by the stack's image builder) as the parent image; relative to the repo root.
    parent_dockerfile: str | None = "stacks/kubernetes/Dockerfile.cuda"
    # A prebuilt CUDA + Python 3.12 image instead of parent_dockerfile (exactly one of the two).
    parent_image: str | None = None

    @model_validator(mode="after")
    def _exactly_one_parent(self) -> KubernetesImageConfig:
        if (self.parent_dockerfile is None) == (self.parent_image is None):
            raise ValueError(
                "kubernetes.image needs exactly one of 'parent_dockerfile' and 'parent_image'"
            )
        return self


class KubernetesServingConfig(_Strict):
    """SeldonDeployments on the gpu-k8s stack: one per environment, `<deployment_prefix>-<env>`."""

    # Repository in the stack's container registry, and a pinned tag (never 'latest').
    image_repository: str = "ml-cicd-seldon-server"
    image_tag: str = "0.1.0"
    # Full reference instead of <registry>/<image_repository>:<image_tag>.
    image: str | None = None
    deployment_prefix: str | None = None  # default: the model name as a DNS label
    replicas: int = Field(1, ge=1)
    service_account: str | None = None
    resources: dict[str, dict[str, str]] = Field(
        default_factory=lambda: {
            "requests": {"cpu": "500m", "memory": "1Gi"},
            "limits": {"cpu": "2", "memory": "2Gi"},
        }
    )
    ready_timeout_seconds: float = Field(600.0, gt=0.0)
    poll_interval_seconds: float = Field(5.0, gt=0.0)

    @model_validator(mode="after")
    def _valid_resources(self) -> KubernetesServingConfig:
        _check_resources(self.resources, "kubernetes.serving.resources")
        if self.image_tag == "latest":
            raise ValueError("kubernetes.serving.image_tag must be pinned, not 'latest'")
        return self


class KubernetesConfig(_Strict):
    """What the gpu-k8s stack's pods get; ignored on stacks without a Kubernetes orchestrator."""

    gpu: GpuConfig = GpuConfig()
    gpu_step_resources: dict[str, dict[str, str]] = Field(
        default_factory=lambda: {
            "requests": {"cpu": "4", "memory": "16Gi"},
            "limits": {"memory": "16Gi"},
        }
    )
    step_resources: dict[str, dict[str, str]] = Field(
        default_factory=lambda: {
            "requests": {"cpu": "1", "memory": "4Gi"},
            "limits": {"memory": "8Gi"},
        }
    )
    image: KubernetesImageConfig = KubernetesImageConfig()
    serving: KubernetesServingConfig = KubernetesServingConfig()

    @model_validator(mode="after")
    def _valid_resources(self) -> KubernetesConfig:
        _check_resources(self.gpu_step_resources, "kubernetes.gpu_step_resources")
        _check_resources(self.step_resources, "kubernetes.step_resources")
        gpu_name = self.gpu.resource_name
        for key, spec in (
            ("gpu_step_resources", self.gpu_step_resources),
            ("step_resources", self.step_resources),
        ):
            if any(gpu_name in values for values in spec.values()):
                raise ValueError(
                    f"kubernetes.{key} must not name {gpu_name}: set kubernetes.gpu.count"
                )
        return self


class RolloutConfig(_Strict):
    """How an approved version reaches production.

    Only the choice and its validation exist today: every environment deploys directly (the
    production model is replaced after its smoke test); executing `canary` (traffic steps through
    the Seldon canary resource) is a later issue.
    """

    strategy: Literal["direct", "canary"] = "direct"
    canary_traffic_steps: list[int] = Field(default_factory=lambda: [10, 50])
    canary_step_minutes: int = Field(30, ge=1)
    canary_max_error_rate: float = Field(0.01, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _increasing_steps(self) -> RolloutConfig:
        steps = self.canary_traffic_steps
        if self.strategy == "canary" and not steps:
            raise ValueError("rollout.canary_traffic_steps must not be empty for a canary")
        if any(not 0 < p < 100 for p in steps):
            raise ValueError(
                f"rollout.canary_traffic_steps must be percentages strictly between 0 and 100, "
                f"got {steps}"
            )
        if any(b <= a for a, b in itertools.pairwise(steps)):
            raise ValueError(f"rollout.canary_traffic_steps must increase, got {steps}")
        return self


class TrainingConfig(_Strict):
    """Where interrupted trainings keep their checkpoints."""

    checkpoint_dir: str = ".local/checkpoints"

    def checkpoint_path(self) -> Path:
        """Absolute checkpoint directory."""
        p = Path(self.checkpoint_dir).expanduser()
        return p if p.is_absolute() else REPO_ROOT / p


class ConsoleConfig(_Strict):
    """The review console: who may decide."""

    # YAML file of reviewers with hashed passwords; relative paths are relative to ML_CICD_HOME.
    # ML_CICD_REVIEWERS_FILE overrides it. Ignored for login when OIDC ([auth]) is configured.
    reviewers_file: str = "reviewers.yaml"
    # With OIDC, only these e-mail addresses may decide (empty: any logged-in user).
    oidc_reviewers: list[str] = Field(default_factory=list)


class RunConfig(_Strict):
    """Everything one environment decides: stack, data, model, registry name, seed."""

    environment: str
    stack: str
    model_name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    seed: int = 42
    data: DataConfig
    model: ModelConfig = ModelConfig()
    training: TrainingConfig = TrainingConfig()
    gates: GatesConfig = GatesConfig()
    deployment: DeploymentConfig = DeploymentConfig()
    kubernetes: KubernetesConfig = KubernetesConfig()
    rollout: RolloutConfig = RolloutConfig()
    console: ConsoleConfig = ConsoleConfig()

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
        return _validate(raw, "command-line overrides")


def available_configs() -> list[str]:
    """Names of the environment configs shipped in configs/."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def resolve_config_path(name_or_path: str) -> Path:
    """Accept an environment name (configs/<name>.yaml) or a path to a YAML file."""
    candidate = Path(name_or_path).expanduser()
    if candidate.suffix in {".yaml", ".yml"}:
        path = candidate if candidate.is_absolute() else Path.cwd() / candidate
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        return path
    path = CONFIG_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ConfigError(
            f"unknown config '{name_or_path}'; available: {', '.join(available_configs())}"
        )
    return path


def _read_yaml(path: Path, what: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{what} not found: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc}") from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{what} {path} must be a mapping at the top level")
    return raw


def _format_validation_error(exc: ValidationError, source: str) -> str:
    lines = [f"invalid configuration in {source}:"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  - {loc}: {err['msg']}")
    return "\n".join(lines)


def _validate(raw: dict[str, Any], source: str) -> RunConfig:
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, source)) from None


def load_schema(path: Path) -> DataSchema:
    """Read and validate a declared data schema."""
    raw = _read_yaml(path, "schema file")
    try:
        return DataSchema.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, str(path))) from None


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


def load_config(name_or_path: str) -> tuple[RunConfig, DataSchema]:
    """Load an environment config and its declared schema, validated against each other."""
    path = resolve_config_path(name_or_path)
    config = _validate(_read_yaml(path, "config file"), str(path))
    schema = load_schema(config.data.schema_file())
    check_config_against_schema(config, schema)
    return config, schema
