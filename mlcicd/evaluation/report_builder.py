"""Assemble the evaluation report: champion comparison, fairness, latency, golden rows, gates.

The gate step and the tests share this function, so what the tests check is what the pipeline runs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
from mlflow import MlflowClient

from inference.packaged_model import PackagedClassifier
from mlcicd.config import RunConfig
from mlcicd.data.golden import golden_fingerprint
from mlcicd.data.loading import binary_target
from mlcicd.evaluation.champion import (
    champion_registry,
    load_champion,
    predict_golden_rows,
    read_golden_rows,
)
from mlcicd.evaluation.gates import drift_gate, evaluate_gates, onnx_parity_gate
from mlcicd.evaluation.latency import measure_latency, serving_predictor
from mlcicd.evaluation.scoring import fairness_tables, score_model
from mlcicd.reporting.drift import DriftReport
from mlcicd.reporting.model import (
    ChampionInfo,
    EvaluationReport,
    GoldenSetInfo,
    ModelScores,
    PackagingResult,
)

LATENCY_PAYLOAD_ROWS = 64


def golden_set_info(
    config: RunConfig, golden_data: pd.DataFrame, champion_tags: dict[str, str]
) -> GoldenSetInfo:
    """The golden set of the run (definition, rows, fingerprint) beside the champion's record."""
    split, file = config.data.golden_split, config.data.golden_file
    source = split.describe() if split is not None else f"file {file.path if file else '?'}"
    return GoldenSetInfo(
        source=source,
        rows=len(golden_data),
        fingerprint=golden_fingerprint(golden_data),
        champion_source=champion_tags.get("golden_source"),
        champion_fingerprint=champion_tags.get("golden_fingerprint"),
    )


def build_report(
    *,
    model: PackagedClassifier,
    golden_data: pd.DataFrame,
    scores: ModelScores,
    config: RunConfig,
    client: MlflowClient,
    run_name: str,
    validation_summary: dict[str, Any],
    training_summary: dict[str, Any],
    lineage: dict[str, str],
    drift: DriftReport | None = None,
    packaging: PackagingResult | None = None,
    onnx_model: bytes = b"",
) -> EvaluationReport:
    """Gather every piece of evidence and every gate verdict into one report.

    Latency is timed in the runtime the servers will run (`packaging.serving_runtime`): the
    candidate's ONNX export in onnxruntime, the champion's too when it has one.
    """
    gates = config.gates
    runtime, threads = config.packaging.serving_runtime, config.packaging.serving_threads
    y_true = binary_target(golden_data, config.data).to_numpy()
    champion_info: ChampionInfo | None = None
    champion_model: PackagedClassifier | None = None
    champion_predicted = None
    payload = golden_data[model.feature_names].head(LATENCY_PAYLOAD_ROWS)
    registry = champion_registry()
    try:
        found = load_champion(client, config.model_name, registry)
    except Exception as exc:  # a champion that cannot be loaded must block, not crash
        found = None
        champion_info = ChampionInfo(
            version="unknown",
            scores=ModelScores(metrics={}),
            error=f"{type(exc).__name__}: {exc}",
            registry=registry,
        )
    if found is not None:
        version, champion_model = found.version, found.model
        try:
            champion_probability = champion_model.predict_proba(golden_data)
            champion_scores = score_model(y_true, champion_probability, champion_model.threshold)
            champion_predicted = (champion_probability >= champion_model.threshold).astype(int)
            champion_latency = None
            if gates.latency.enabled:
                predict, used = serving_predictor(
                    champion_model, found.onnx_model, runtime, threads
                )
                champion_latency = measure_latency(predict, payload, gates.latency, used)
            champion_info = ChampionInfo(
                version=version, scores=champion_scores, latency=champion_latency,
                registry=registry,
            )  # fmt: skip
        except Exception as exc:
            champion_model = None
            champion_info = ChampionInfo(
                version=version,
                scores=ModelScores(metrics={}),
                error=f"{type(exc).__name__}: {exc}",
                registry=registry,
            )
    probability = model.predict_proba(golden_data)
    fairness = fairness_tables(
        golden_data,
        y_true,
        probability,
        model.threshold,
        list(config.data.sensitive_features),
        gates.fairness,
        config.data.sensitive_groups,
        champion_predicted if champion_model is not None else None,
    )
    latency = None
    if gates.latency.enabled:
        predict, used = serving_predictor(model, onnx_model, runtime, threads)
        latency = measure_latency(predict, payload, gates.latency, used)
    golden_rows = (
        predict_golden_rows(
            read_golden_rows(str(gates.golden_rows.resolved())), model, champion_model
        )
        if gates.golden_rows.enabled
        else []
    )
    golden = golden_set_info(config, golden_data, found.tags if found is not None else {})
    lineage = {**lineage, "golden_source": golden.source, "golden_fingerprint": golden.fingerprint}
    verdicts = [
        drift_gate(config.drift, drift),
        onnx_parity_gate(config.packaging, packaging),
        *evaluate_gates(
            gates, scores, champion_info, fairness, latency, golden_rows, training_summary
        ),
    ]
    return EvaluationReport(
        model_name=config.model_name,
        environment=config.environment,
        model_type=config.model.type,
        run_name=run_name,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        threshold=model.threshold,
        positive_class=model.positive_class,
        golden_rows_evaluated=len(golden_data),
        challenger=scores,
        champion=champion_info,
        fairness=fairness,
        latency=latency,
        golden_rows=golden_rows,
        data_validation=validation_summary,
        drift=drift,
        packaging=packaging if config.packaging.enabled else None,
        golden=golden,
        training={k: v for k, v in training_summary.items() if k != "epochs"}
        | {"epochs_run": len(training_summary.get("epochs") or [])},
        lineage=lineage,
        gates=verdicts,
    )
