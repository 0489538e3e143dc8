"""Judge a version again at promotion: the target environment's gates, today's champion.

A version was gated when it was trained, with the gates of the config it was trained under and
against the champion of that day. Before it replaces what serves, it is scored again on the
golden set with the gates of `deployment.production.gates_config` (production's thresholds,
fairness bounds, latency budget) and compared with the champion that serves now. The report
built here is stored with the version; a failure refuses the promotion with the gate's message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from mlcicd.config import ConfigError, RunConfig
from mlcicd.errors import GateRejected

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from inference.packaged_model import PackagedClassifier
    from mlcicd.reporting.model import EvaluationReport

PROMOTION_REPORT_ARTIFACT = "promotion/report.json"


class PromotionGatesFailed(GateRejected):
    """The version does not pass the target environment's gates against today's champion."""

    gate = "promotion_gates"


def promotion_config(config: RunConfig) -> RunConfig:
    """`config` with the gates that judge a promotion (those of gates_config, if set)."""
    from mlcicd.config.loader import load_config

    reference = config.deployment.production.gates_config.strip()
    if not reference:
        return config
    try:
        judge, _ = load_config(reference)
    except ConfigError as exc:
        raise ConfigError(
            f"deployment.production.gates_config '{reference}' cannot be loaded: {exc}"
        ) from None
    return config.model_copy(update={"gates": judge.gates})


def rejudge(
    client: MlflowClient,
    config: RunConfig,
    version: str,
    model: PackagedClassifier,
    onnx_model: bytes,
    golden: pd.DataFrame,
    stored: EvaluationReport,
) -> EvaluationReport:
    """The version's report under the promotion gates; PromotionGatesFailed if any gate fails."""
    from mlcicd.data.loading import binary_target
    from mlcicd.evaluation.report_builder import build_report
    from mlcicd.evaluation.scoring import score_model

    judged = promotion_config(config)
    y_true = binary_target(golden, config.data).to_numpy()
    scores = score_model(y_true, model.predict_proba(golden), model.threshold)
    report = build_report(
        model=model,
        golden_data=golden,
        scores=scores,
        config=judged,
        client=client,
        run_name=f"promotion check of version {version}",
        validation_summary=stored.data_validation,
        training_summary=stored.training,  # the loss curve was judged at training time
        lineage=stored.lineage,
        drift=stored.drift,
        # parity was measured on this very file at training time; its sha256 is checked on load
        packaging=stored.packaging,
        onnx_model=onnx_model,
    )
    run_id = client.get_model_version(config.model_name, version).run_id
    if run_id:  # the review page and `run.py report` can show what the promotion saw
        client.log_text(run_id, report.model_dump_json(indent=2), PROMOTION_REPORT_ARTIFACT)
    if not report.passed:
        source = config.deployment.production.gates_config or "this config"
        lines = [f"version {version} fails the promotion gates ({source}) against the champion "
                 f"of now ({report.champion.version if report.champion else 'none'}):"]  # fmt: skip
        lines += [f"  - {g.gate}: {g.summary}" for g in report.failed_gates]
        names = ", ".join(g.gate for g in report.failed_gates)
        raise PromotionGatesFailed("\n".join(lines), gate=f"promotion: {names}")
    return report
