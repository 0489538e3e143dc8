"""The variants of one SeldonDeployment: which predictor serves which version, in which role.

During a rollout every version has its own predictor, named `v<version>` (a direct deployment's
single predictor is `stable`, from manifests.single_predictor). A role change is then a change of
`traffic` (and `shadow`) only, which restarts no pod: Seldon Core v1 zeroes `traffic` in the
predictor JSON it hands the executor, while a predictor's labels, annotations and `shadow` flag do
end up in its pod template. So the role of each predictor is recorded in an annotation of the
SeldonDeployment's own metadata (never copied to pods), ROLES_ANNOTATION; without one (a document
from `deploy`, or one written by hand) the role follows from the name, the shadow flag and the
traffic.

Seldon Core v1 names restated here (a name over 63 characters becomes `seldon-<md5 of it>`):
- the predictor's Service `<deployment>-<predictor>` (or its `seldon.io/svc-name` annotation),
  on the executor's HTTP port 8000, which `.status.serviceStatus[<svc>].httpEndpoint` confirms;
- the Kubernetes Deployment `<deployment>-<predictor>-<i>-<containers>`, the key of its entry in
  `.status.deploymentStatus`.
Pure functions over documents: nothing here talks to a cluster.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, replace
from typing import Any

from mlcicd.serving.contract import ModelRef, VariantStatus
from mlcicd.serving.kubernetes.manifests import LABEL_PREFIX
from mlcicd.serving.kubernetes.targets import CANARY, SHADOW, STABLE, validate_dns_label
from mlcicd.serving.server.protocol import PREDICTIONS_PATH

logger = logging.getLogger(__name__)

PREVIOUS = "previous"
IDLE = "idle"
ROLES = (STABLE, CANARY, SHADOW, PREVIOUS, IDLE)

ROLES_ANNOTATION = f"{LABEL_PREFIX}/traffic"
"""JSON {predictor name: {"role", "started_at", "retire_at"}}, written with every traffic change."""
ROLLOUT_ANNOTATION = f"{LABEL_PREFIX}/rollout-record"
"""JSON of the rollout in progress (TrafficControl.write_rollout), for status and a re-run."""

EXECUTOR_HTTP_PORT = 8000
"""The Seldon executor's REST port, the predictor Service's `http` port (operator default)."""
CUSTOM_SERVICE_ANNOTATION = "seldon.io/svc-name"
_MAX_NAME = 63


@dataclass(frozen=True)
class Predictor:
    """One predictor of a stored SeldonDeployment, read back as a variant of the environment."""

    index: int
    name: str
    version: str
    model: ModelRef | None
    role: str
    traffic: int
    """The share of client traffic it gets (a lone predictor without `traffic` gets 100)."""
    shadow: bool
    started_at: str = ""
    retire_at: str = ""
    traffic_set: bool = False
    """Whether the stored predictor has a `traffic` key (Seldon omits a 0 when it writes back)."""


def predictor_name(version: str) -> str:
    """The predictor of a rollout's version: `v<version>` (a DNS label, as Seldon requires)."""
    return validate_dns_label(f"v{version}", "predictor name")


def seldon_name(name: str) -> str:
    """Seldon Core v1's rule for every derived name: over 63 characters, `seldon-<md5>`."""
    return name if len(name) <= _MAX_NAME else f"seldon-{_md5(name)}"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def raw_predictors(document: dict[str, Any]) -> list[dict[str, Any]]:
    """`.spec.predictors` of a stored document (an empty list when it has none)."""
    return list((document.get("spec") or {}).get("predictors") or [])


def json_annotation(document: dict[str, Any], key: str) -> Any:
    """The parsed JSON of one metadata annotation; None when absent; ValueError when damaged."""
    raw = ((document.get("metadata") or {}).get("annotations") or {}).get(key)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"annotation {key} is not valid JSON ({exc})") from None


def roles_record(document: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The recorded role of each predictor; a damaged record is ignored (roles are inferred)."""
    try:
        raw = json_annotation(document, ROLES_ANNOTATION)
    except ValueError as exc:
        logger.warning("%s; inferring the roles from the predictors", exc)
        return {}
    if not isinstance(raw, dict):
        return {}
    return {
        str(name): {k: str(v) for k, v in entry.items() if isinstance(v, str)}
        for name, entry in raw.items()
        if isinstance(entry, dict)
    }


def _model(predictor: dict[str, Any]) -> ModelRef | None:
    params = {
        p.get("name"): str(p.get("value"))
        for p in (predictor.get("graph") or {}).get("parameters") or []
        if isinstance(p, dict)
    }
    if {"model_name", "model_version", "model_uri"} <= params.keys():
        return ModelRef(params["model_name"], params["model_version"], params["model_uri"])
    return None


def _version(predictor: dict[str, Any], model: ModelRef | None) -> str:
    if model is not None:
        return model.version
    label = (predictor.get("labels") or {}).get(f"{LABEL_PREFIX}/model-version")
    return str(label) if label else f"?{predictor.get('name', '')}"


def _traffic(predictor: dict[str, Any], live: int) -> int:
    if predictor.get("shadow"):
        return 0
    value = predictor.get("traffic")
    traffic = value if isinstance(value, int) and not isinstance(value, bool) else 0
    return 100 if live == 1 and traffic == 0 else traffic


def _implied_role(predictor: dict[str, Any], traffic: int, live: int) -> str:
    name = predictor.get("name")
    if name == STABLE or live == 1:
        return STABLE
    if name == CANARY or traffic > 0:
        return CANARY
    return IDLE


def predictors(document: dict[str, Any]) -> list[Predictor]:
    """Every predictor with its version, role and share; exactly one stable when any serves."""
    raw = raw_predictors(document)
    recorded = roles_record(document)
    live = sum(1 for p in raw if not p.get("shadow"))
    found: list[Predictor] = []
    for index, predictor in enumerate(raw):
        name = str(predictor.get("name", ""))
        traffic = _traffic(predictor, live)
        entry = recorded.get(name, {})
        role = entry.get("role", "")
        if predictor.get("shadow"):
            role = SHADOW
        elif role not in ROLES or role == SHADOW:
            role = _implied_role(predictor, traffic, live)
        model = _model(predictor)
        found.append(
            Predictor(
                index=index,
                name=name,
                version=_version(predictor, model),
                model=model,
                role=role,
                traffic=traffic,
                shadow=bool(predictor.get("shadow")),
                started_at=entry.get("started_at", ""),
                retire_at=entry.get("retire_at", "") if role == PREVIOUS else "",
                traffic_set="traffic" in predictor,
            )
        )
    return _one_stable(found, recorded)


def _one_stable(found: list[Predictor], recorded: dict[str, dict[str, str]]) -> list[Predictor]:
    """A hand-edited document may name no stable or two: keep the recorded one, else the busiest."""
    stables = [p for p in found if p.role == STABLE]
    live = [p for p in found if not p.shadow]
    if len(stables) == 1 or not live:
        return found
    pool = stables or live
    keep = next(
        (p for p in pool if recorded.get(p.name, {}).get("role") == STABLE),
        max(pool, key=lambda p: p.traffic),
    )
    result = []
    for p in found:
        role = p.role
        if p is keep:
            role = STABLE
        elif role == STABLE:
            role = CANARY if p.traffic > 0 else IDLE
        result.append(p if role == p.role else replace(p, role=role))
    return result


def stable_predictor(document: dict[str, Any]) -> Predictor | None:
    """The predictor every client request falls back to, if any."""
    return next((p for p in predictors(document) if p.role == STABLE), None)


def stable_model(document: dict[str, Any]) -> ModelRef | None:
    """The model the stable predictor serves, read back from its graph parameters."""
    stable = stable_predictor(document)
    return stable.model if stable is not None else None


def predictor_service(document: dict[str, Any], predictor: dict[str, Any]) -> str:
    """The Service the operator creates in front of one predictor's executor."""
    custom = (predictor.get("annotations") or {}).get(CUSTOM_SERVICE_ANNOTATION)
    if custom:
        return str(custom)
    name = (document.get("metadata") or {}).get("name", "")
    return seldon_name(f"{name}-{predictor.get('name', '')}")


def predictor_url(document: dict[str, Any], namespace: str, predictor: dict[str, Any]) -> str:
    """The predictor's own prediction URL: its Service, resolvable only inside the cluster.

    The ingress splits by weight and has no route to one predictor, so a predictor with no
    traffic is only reachable here (from a pod, or through `kubectl port-forward`).
    """
    service = predictor_service(document, predictor)
    services = (document.get("status") or {}).get("serviceStatus") or {}
    endpoint = str((services.get(service) or {}).get("httpEndpoint") or "")
    port = endpoint.rsplit(":", 1)[-1] if ":" in endpoint else ""
    port = port if port.isdigit() else str(EXECUTOR_HTTP_PORT)
    return f"http://{service}.{namespace}.svc.cluster.local:{port}{PREDICTIONS_PATH}"


def deployment_keys(document: dict[str, Any], predictor: dict[str, Any]) -> list[str]:
    """Names of the Kubernetes Deployments of one predictor (`.status.deploymentStatus` keys).

    Both forms Seldon uses for a long name are listed: `seldon-<md5>` and, with the operator's
    DEPLOYMENT_NAME_AS_PREFIX, `<deployment>-<md5>`.
    """
    deployment = (document.get("metadata") or {}).get("name", "")
    keys = []
    for index, component in enumerate(predictor.get("componentSpecs") or []):
        containers = ((component or {}).get("spec") or {}).get("containers") or []
        if not containers:
            continue
        suffix = ((component or {}).get("metadata") or {}).get("name") or "-".join(
            str(c.get("name", "")) for c in containers
        )
        name = f"{deployment}-{predictor.get('name', '')}-{index}-{suffix}"
        keys.append(seldon_name(name))
        if len(name) > _MAX_NAME:
            keys.append(f"{deployment}-{_md5(name)}")
    return keys


def predictor_replicas(document: dict[str, Any], predictor: dict[str, Any]) -> tuple[int, int]:
    """(replicas, available replicas) of one predictor, as the operator last reported them."""
    reported = (document.get("status") or {}).get("deploymentStatus") or {}
    replicas = available = 0
    for key in deployment_keys(document, predictor):
        item = reported.get(key)
        if isinstance(item, dict):
            replicas += int(item.get("replicas", 0) or 0)
            available += int(item.get("availableReplicas", 0) or 0)
    return replicas, available


def variant_status(document: dict[str, Any], predictor: Predictor, started: str) -> VariantStatus:
    """One predictor as the contract's VariantStatus: no process (port and pid 0)."""
    raw = raw_predictors(document)[predictor.index]
    replicas, available = predictor_replicas(document, raw)
    return VariantStatus(
        version=predictor.version,
        role=predictor.role,
        port=0,
        pid=0,
        traffic_percent=predictor.traffic,
        running=available > 0,
        healthy=replicas > 0 and available >= replicas,
        started_at=predictor.started_at or (started if predictor.role == STABLE else ""),
        retire_at=predictor.retire_at,
    )


def rollout_record(document: dict[str, Any]) -> dict[str, Any] | None:
    """The rollout record for status; a damaged one is shown as such, never raised."""
    try:
        rollout = json_annotation(document, ROLLOUT_ANNOTATION)
    except ValueError as exc:
        return {"state": "unreadable", "detail": str(exc)}
    return rollout if isinstance(rollout, dict) else None
