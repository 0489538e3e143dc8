"""Breaches: pure functions from a monitoring window to the thresholds it crossed.

Each breach names the value, the limit and the config key that sets the limit, so an alert
says exactly what to change if the limit is wrong rather than the model.
"""

from __future__ import annotations

from mlcicd.config import MonitoringThresholds
from mlcicd.reporting.monitoring import Breach, MonitoringWindow

_PREFIX = "monitoring.thresholds"


def error_breach(window: MonitoringWindow, limits: MonitoringThresholds) -> Breach | None:
    """Server errors (5xx) over requests, once the window has enough requests."""
    traffic = window.traffic
    if traffic.requests < limits.min_requests or traffic.error_rate <= limits.max_error_rate:
        return None
    return Breach(
        kind="errors",
        metric="error_rate",
        value=traffic.error_rate,
        threshold=limits.max_error_rate,
        config_key=f"{_PREFIX}.max_error_rate",
        message=(
            f"error rate {traffic.error_rate:.2%} ({traffic.server_errors} of "
            f"{traffic.requests} requests answered 5xx) > {limits.max_error_rate:.2%}"
        ),
    )


def latency_breach(
    window: MonitoringWindow, limits: MonitoringThresholds, baseline_ms: float | None
) -> Breach | None:
    """p99 over the version's smoke-tested latency (never below the floor)."""
    p99 = window.traffic.p99_ms
    if baseline_ms is None or p99 is None or window.traffic.requests < limits.min_requests:
        return None
    reference = max(baseline_ms, limits.latency_floor_ms)
    ratio = p99 / reference if reference > 0 else 0.0
    if ratio <= limits.max_p99_ratio:
        return None
    return Breach(
        kind="latency",
        metric="p99_ratio",
        value=round(ratio, 4),
        threshold=limits.max_p99_ratio,
        config_key=f"{_PREFIX}.max_p99_ratio",
        message=(
            f"p99 {p99:.1f} ms is {ratio:.2f}x the baseline max({baseline_ms:.1f} ms smoke-tested, "
            f"floor {limits.latency_floor_ms:g} ms) > {limits.max_p99_ratio:g}x"
        ),
    )


def drift_breaches(window: MonitoringWindow, limits: MonitoringThresholds) -> list[Breach]:
    """One breach per drifted input column, and one for drifted predictions."""
    breaches = []
    for feature in window.drift.drifted_features:
        kind_key = "numeric" if feature.kind == "numeric" else "categorical"
        breaches.append(
            Breach(
                kind="drift",
                metric=f"feature:{feature.feature}",
                value=feature.psi,
                threshold=None,
                config_key=f"drift.{kind_key}",
                message=f"input '{feature.feature}' drifted: {feature.reason}",
            )
        )
    prediction = window.drift.prediction
    if prediction is not None and prediction.drifted:
        breaches.append(
            Breach(
                kind="drift",
                metric="prediction_psi",
                value=prediction.psi,
                threshold=limits.max_prediction_psi,
                config_key=f"{_PREFIX}.max_prediction_psi",
                message=f"predictions drifted from the golden set's: {prediction.reason}",
            )
        )
    return breaches


def online_breaches(window: MonitoringWindow, limits: MonitoringThresholds) -> list[Breach]:
    """Online ROC AUC and accuracy more than the allowed drop below the golden set's."""
    online = window.online
    if online is None:
        return []
    breaches = []
    pairs = (
        ("roc_auc", online.roc_auc, online.golden_roc_auc, limits.max_auc_drop, "max_auc_drop"),
        (
            "accuracy",
            online.accuracy,
            online.golden_accuracy,
            limits.max_accuracy_drop,
            "max_accuracy_drop",
        ),
    )
    for metric, value, golden, allowed, key in pairs:
        if value is None or golden is None:
            continue
        drop = golden - value
        if drop > allowed:
            breaches.append(
                Breach(
                    kind="online_metrics",
                    metric=f"{metric}_drop",
                    value=round(drop, 6),
                    threshold=allowed,
                    config_key=f"{_PREFIX}.{key}",
                    message=(
                        f"online {metric} {value:.4f} on {online.labelled_rows} labelled rows is "
                        f"{drop:.4f} below the golden set's {golden:.4f} (allowed {allowed:g})"
                    ),
                )
            )
    return breaches


def judge_window(
    window: MonitoringWindow, limits: MonitoringThresholds, baseline_ms: float | None
) -> list[Breach]:
    """Every breach of one window, errors first."""
    found = [error_breach(window, limits), latency_breach(window, limits, baseline_ms)]
    return [
        *(b for b in found if b is not None),
        *drift_breaches(window, limits),
        *online_breaches(window, limits),
    ]
