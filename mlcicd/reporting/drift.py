"""Drift findings: one typed object for the evaluation report and every monitoring window.

The data step fills it for a training batch against the champion's reference profile; the
monitor fills it for a window of production traffic. Both are rendered by the same table and
charts, so "PSI 0.31" means the same number in a PR comment and on the Monitoring page.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FeatureDrift(_Model):
    """One column (or the predicted probability) against its reference distribution."""

    feature: str
    kind: Literal["numeric", "categorical", "prediction"]
    reference_rows: int
    current_rows: int
    reference_missing_rate: float = 0.0
    current_missing_rate: float = 0.0
    psi: float | None = None
    # KS statistic (numeric, prediction) or Jensen-Shannon distance (categorical)
    distance_name: Literal["ks_statistic", "jensen_shannon"] = "ks_statistic"
    distance: float | None = None
    # KS (numeric, prediction) or chi-square (categorical) p-value
    test_name: Literal["ks", "chi2"] = "ks"
    p_value: float | None = None
    drifted: bool | None = None  # None: too few rows to judge
    reason: str = ""
    bins: list[str] = Field(default_factory=list)
    reference_shares: list[float] = Field(default_factory=list)
    current_shares: list[float] = Field(default_factory=list)


class DriftReport(_Model):
    """Every compared column of one batch or window, and which ones drifted."""

    reference_version: str | None = None  # the version whose profile was the baseline
    reference_rows: int = 0
    current_rows: int = 0
    on_drift: Literal["warn", "block"] = "warn"
    features: list[FeatureDrift] = Field(default_factory=list)
    prediction: FeatureDrift | None = None
    note: str = ""  # why nothing was compared, when nothing was

    @property
    def drifted_features(self) -> list[FeatureDrift]:
        """Columns judged drifted (the prediction is separate)."""
        return [f for f in self.features if f.drifted]

    @property
    def compared(self) -> bool:
        """Whether a reference existed and columns were compared at all."""
        return bool(self.features)

    def summary(self) -> str:
        """One line naming each drifted column with the statistic that tripped it."""
        if not self.compared:
            return self.note or "not compared"
        drifted = self.drifted_features
        if not drifted:
            return f"no drift in {len(self.features)} column(s) against v{self.reference_version}"
        parts = "; ".join(f"{f.feature} ({f.reason})" for f in drifted)
        return f"{len(drifted)} of {len(self.features)} column(s) drifted: {parts}"
