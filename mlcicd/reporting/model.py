"""The evaluation report: one typed object behind the PR comment, the HTML file and the console.

Every rendering reads this object and nothing else, so a reviewer sees the same numbers
everywhere. Its canonical JSON is hashed; the hash is recorded on the registered version, so an
approval can prove which report it was based on.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mlcicd.reporting.drift import DriftReport

# warned: a finding the config chose not to block on (drift with on_drift: warn)
GateStatus = Literal["passed", "failed", "skipped", "no_champion", "warned"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CurvePoint(_Model):
    """One point of a ROC (x=FPR, y=TPR) or precision-recall (x=recall, y=precision) curve."""

    x: float
    y: float


class ConfusionMatrix(_Model):
    """Counts at the model's decision threshold."""

    true_negative: int
    false_positive: int
    false_negative: int
    true_positive: int


class ModelScores(_Model):
    """Golden-set metrics and curves of one model."""

    metrics: dict[str, float]
    roc_curve: list[CurvePoint] = Field(default_factory=list)
    pr_curve: list[CurvePoint] = Field(default_factory=list)
    confusion: ConfusionMatrix | None = None
    probability_std: float = 0.0
    positive_rate: float = 0.0


class GroupMetrics(_Model):
    """fairlearn MetricFrame row for one group of one sensitive feature."""

    group: str
    count: int
    selection_rate: float
    accuracy: float
    true_positive_rate: float | None
    false_positive_rate: float | None
    small: bool


RELATIVE_FAIRNESS_FIELDS = (
    "label_demographic_parity_difference",
    "champion_demographic_parity_difference",
    "champion_equalized_odds_difference",
)


class FairnessResult(_Model):
    """Per-group table and disparity summaries of one sensitive feature."""

    feature: str
    groups: list[GroupMetrics]
    demographic_parity_difference: float
    equalized_odds_difference: float
    groups_in_verdict: list[str]
    # how the groups were formed (bins, merged categories); '' = the feature's own values
    definition: str = ""
    # the same differences for the golden labels themselves (the data's own disparity; its
    # equalized odds difference is 0 by definition) and for the champion, over the same groups
    label_demographic_parity_difference: float | None = None
    champion_demographic_parity_difference: float | None = None
    champion_equalized_odds_difference: float | None = None


class LatencyResult(_Model):
    """Latency percentiles and throughput of one packaged model."""

    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    batch_size: int
    batch_rows_per_second: float
    samples_ms: list[float] = Field(default_factory=list)
    # what was timed: the runtime the servers run (packaging.serving_runtime); '' = pyfunc
    runtime: str = ""


class PackagingResult(_Model):
    """The ONNX export of the candidate and how closely it reproduces the pyfunc on the golden set.

    `error` is set when the export itself failed (no file was written); the parity numbers are
    then empty.
    """

    format: str = "onnx"
    opset: int
    tolerance: float
    rows_compared: int = 0
    max_abs_difference: float | None = None
    worst_row: int | None = None  # the golden row with the largest difference
    worst_row_probabilities: dict[str, float] = Field(default_factory=dict)  # pyfunc, onnx
    label_mismatches: int = 0
    first_mismatch_row: int | None = None
    sha256: str = ""
    size_bytes: int = 0
    export_seconds: float = 0.0
    error: str | None = None


class GoldenRowPrediction(_Model):
    """Prediction of one canonical row by the challenger (and the champion, if any)."""

    row: int
    challenger_probability: float
    challenger_prediction: str
    champion_probability: float | None = None
    champion_prediction: str | None = None
    flipped: bool = False


class Check(_Model):
    """One comparison inside a gate, with its margin (positive = room to spare)."""

    name: str
    observed: float | None
    threshold: float | None
    comparison: Literal[">=", "<=", "=="]
    passed: bool
    margin: float | None = None
    counts_for_verdict: bool = True


class GateResult(_Model):
    """Verdict of one gate and the checks behind it."""

    gate: str
    status: GateStatus
    summary: str
    checks: list[Check] = Field(default_factory=list)

    @property
    def failed(self) -> bool:
        """Whether this gate blocks the run."""
        return self.status == "failed"


class ChampionInfo(_Model):
    """Which version was champion when this report was made."""

    version: str
    scores: ModelScores
    latency: LatencyResult | None = None
    error: str | None = None
    # the team registry the champion came from (ML_CICD_CHAMPION_REGISTRY_URI); '' = this run's
    registry: str = ""


class GoldenSetInfo(_Model):
    """Which golden rows judged this candidate, and whether the champion was judged on them."""

    source: str  # "file PATH" or the split's definition (GoldenSplit.describe)
    rows: int
    fingerprint: str  # sha256 over the sorted row keys (mlcicd.data.golden)
    champion_source: str | None = None  # as the champion's version recorded them
    champion_fingerprint: str | None = None

    @property
    def changed_since_champion(self) -> bool:
        """The champion recorded another definition of the golden set than this run's."""
        return self.champion_source is not None and self.champion_source != self.source


class EvaluationReport(_Model):
    """Everything a reviewer needs to accept or reject a candidate model."""

    schema_version: int = 1
    model_name: str
    environment: str
    model_type: str
    run_name: str
    created_at: str
    threshold: float
    positive_class: str
    golden_rows_evaluated: int
    challenger: ModelScores
    champion: ChampionInfo | None = None
    fairness: list[FairnessResult] = Field(default_factory=list)
    latency: LatencyResult | None = None
    golden_rows: list[GoldenRowPrediction] = Field(default_factory=list)
    data_validation: dict[str, Any] = Field(default_factory=dict)
    drift: DriftReport | None = None
    packaging: PackagingResult | None = None
    golden: GoldenSetInfo | None = None
    training: dict[str, Any] = Field(default_factory=dict)
    lineage: dict[str, str] = Field(default_factory=dict)
    gates: list[GateResult] = Field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when no enabled gate failed."""
        return not any(g.failed for g in self.gates)

    @property
    def failed_gates(self) -> list[GateResult]:
        """The gates that block this candidate."""
        return [g for g in self.gates if g.failed]

    def canonical_json(self) -> str:
        """Stable JSON form: sorted keys, no whitespace; what the sha256 is taken of.

        A report without a drift finding or a packaging result, whose latency has no runtime, or
        whose champion came from the run's own registry, hashes as before those fields existed,
        so the recorded sha256 of every earlier version still verifies.
        """
        data = self.model_dump(mode="json")
        for added in ("drift", "packaging", "golden"):
            if data.get(added) is None:
                data.pop(added, None)
        for fairness in data.get("fairness") or []:
            if isinstance(fairness, dict) and not fairness.get("definition"):
                fairness.pop("definition", None)
            for added in RELATIVE_FAIRNESS_FIELDS:
                if isinstance(fairness, dict) and fairness.get(added) is None:
                    fairness.pop(added, None)
        champion = data["champion"] if isinstance(data.get("champion"), dict) else {}
        for latency in (data.get("latency"), champion.get("latency")):
            if isinstance(latency, dict) and not latency.get("runtime"):
                latency.pop("runtime", None)
        if isinstance(data.get("champion"), dict) and not data["champion"].get("registry"):
            data["champion"].pop("registry", None)
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    def sha256(self) -> str:
        """Fingerprint of the report's content."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def metric_deltas(self) -> dict[str, float]:
        """Challenger minus champion, per metric both have."""
        if self.champion is None:
            return {}
        theirs = self.champion.scores.metrics
        return {k: v - theirs[k] for k, v in self.challenger.metrics.items() if k in theirs}
