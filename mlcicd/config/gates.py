"""The quality gates a trained model must pass before it is registered, each with its switch."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from mlcicd.config.base import StrictModel, repo_relative

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


class ThresholdGateConfig(StrictModel):
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


class ChampionGateConfig(StrictModel):
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


class FairnessGateConfig(StrictModel):
    """Group-fairness bounds per sensitive feature (fairlearn)."""

    enabled: bool = True
    # `absolute: false` leaves the two bounds below in the report but out of the verdict: for
    # data whose labels themselves differ strongly by group, judge relative to the data instead
    absolute: bool = True
    max_demographic_parity_difference: float = Field(0.25, ge=0.0, le=1.0)
    max_equalized_odds_difference: float = Field(0.20, ge=0.0, le=1.0)
    # the model's demographic parity difference minus the label's own on the golden set
    max_excess_over_data: float | None = Field(None, ge=0.0, le=1.0)
    # the model's disparities (both) minus the champion's on the same golden rows
    max_worse_than_champion: float | None = Field(None, ge=0.0, le=1.0)
    min_group_size: int = Field(200, ge=1)

    @model_validator(mode="after")
    def _something_decides(self) -> FairnessGateConfig:
        if (
            not self.absolute
            and self.max_excess_over_data is None
            and (self.max_worse_than_champion is None)
        ):
            raise ValueError(
                "gates.fairness.absolute is false and no relative bound is set, so nothing would "
                "decide: set max_excess_over_data and/or max_worse_than_champion, or "
                "enabled: false to switch the gate off"
            )
        return self


class LatencyGateConfig(StrictModel):
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


class GoldenRowsGateConfig(StrictModel):
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
        return repo_relative(Path(self.path or "").expanduser())


class SanityGateConfig(StrictModel):
    """The model must have trained at all: finite, decreasing loss and a non-constant output."""

    enabled: bool = True
    min_probability_std: float = Field(0.01, ge=0.0)
    max_loss_ratio: float = Field(1.0, gt=0.0)


class GatesConfig(StrictModel):
    """Every gate, each with its own switch; turning one off is a config change, never code."""

    thresholds: ThresholdGateConfig = ThresholdGateConfig()
    champion: ChampionGateConfig = ChampionGateConfig()
    fairness: FairnessGateConfig = FairnessGateConfig()
    latency: LatencyGateConfig = LatencyGateConfig()
    # no default path: a project without canonical rows must say so (enabled: false)
    golden_rows: GoldenRowsGateConfig = GoldenRowsGateConfig(enabled=False)
    sanity: SanityGateConfig = SanityGateConfig()
