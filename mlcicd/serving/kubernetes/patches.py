"""JSON patches (RFC 6902) of a SeldonDeployment: a traffic table, one more predictor, one fewer.

Every change of a rollout is one PATCH, never a replace of the whole document: it touches only
the fields it means to (`traffic`, `shadow`, a predictor added or removed, the roles annotation
and the role labels of the metadata), so the operator keeps every pod it does not have to change.
Each patch starts with a `test` of every predictor's name at its index: if the predictors
changed since they were read, the API server refuses the whole patch (HTTP 422) instead of
applying it to the wrong predictor. `traffic` is written with `add`, which sets a key whether it
exists or not: Seldon's webhook drops a `traffic` of 0 when it writes the document back.

A table is checked here before anything is sent, by the rules of the local router and of Seldon
Core v1's admission webhook: exactly one stable, at most one canary and one shadow, integer
weights in 0..100, shadow/previous/idle weights 0, the non-shadow weights summing to 100.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from mlcicd.serving.contract import ServingError
from mlcicd.serving.kubernetes.manifests import LABEL_PREFIX
from mlcicd.serving.kubernetes.targets import CANARY, SHADOW, STABLE, label_value
from mlcicd.serving.kubernetes.variants import (
    IDLE,
    PREVIOUS,
    ROLES,
    ROLES_ANNOTATION,
    Predictor,
)

Op = dict[str, Any]
_NO_TRAFFIC = (SHADOW, PREVIOUS, IDLE)


def pointer(*parts: str | int) -> str:
    """A JSON pointer (RFC 6901) to a path: `~` and `/` inside a key escaped."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def now_utc() -> str:
    """The time recorded with a role (ISO 8601, seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def check_table(
    environment: str, assignments: Mapping[str, tuple[str, int]]
) -> dict[str, tuple[str, int]]:
    """The table as {version: (role, weight)}, or a ServingError saying what is wrong with it."""

    def refuse(why: str) -> ServingError:
        return ServingError(f"invalid traffic for {environment}: {why}; nothing was changed")

    table: dict[str, tuple[str, int]] = {}
    for version, assignment in assignments.items():
        if not isinstance(assignment, tuple | list) or len(assignment) != 2:
            raise refuse(f"v{version}: expected (role, weight), got {assignment!r}")
        role, weight = assignment
        if role not in ROLES:
            raise refuse(f"v{version}: role {role!r} is not one of {', '.join(ROLES)}")
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
            raise refuse(f"v{version}: weight must be an integer in 0..100, got {weight!r}")
        if role in _NO_TRAFFIC and weight != 0:
            raise refuse(f"v{version}: a {role} version takes no client traffic (weight {weight})")
        table[str(version)] = (role, weight)
    roles = [role for role, _ in table.values()]
    if roles.count(STABLE) != 1:
        raise refuse(f"exactly one stable version is required, got {roles.count(STABLE)}")
    for role in (CANARY, SHADOW):
        if roles.count(role) > 1:
            raise refuse(f"at most one {role} version is allowed, got {roles.count(role)}")
    total = sum(weight for role, weight in table.values() if role != SHADOW)
    if total != 100:
        weights = ", ".join(f"v{v}={w}" for v, (r, w) in table.items() if r != SHADOW)
        raise refuse(f"the weights of the non-shadow versions must sum to 100, got {total} "
                     f"({weights})")  # fmt: skip
    return table


def guards(current: list[Predictor]) -> list[Op]:
    """`test` ops: every predictor is still the one read, at the index it was read at."""
    return [
        {"op": "test", "path": pointer("spec", "predictors", p.index, "name"), "value": p.name}
        for p in current
    ]


def _entry(predictor: Predictor, role: str, retire_after: float | None) -> dict[str, str]:
    entry = {"role": role, "started_at": predictor.started_at}
    if role == PREVIOUS:
        keep = predictor.retire_at if predictor.role == PREVIOUS else ""
        later = datetime.now(UTC) + timedelta(seconds=retire_after or 0.0)
        entry["retire_at"] = keep or later.isoformat(timespec="seconds")
    return entry


def traffic_patch(
    document: dict[str, Any],
    current: list[Predictor],
    table: Mapping[str, tuple[str, int]],
    retire_after_seconds: float | None,
) -> list[Op]:
    """The whole table in one patch: every predictor's traffic and shadow flag, and its role."""
    ops = guards(current)
    roles: dict[str, dict[str, str]] = {}
    after: list[tuple[Predictor, str]] = []
    for p in current:
        role, weight = table.get(p.version, (IDLE, 0))
        base = pointer("spec", "predictors", p.index)
        ops.append({"op": "add", "path": f"{base}/traffic", "value": weight})
        if role == SHADOW and not p.shadow:
            ops.append({"op": "add", "path": f"{base}/shadow", "value": True})
        elif role != SHADOW and _has_key(document, p.index, "shadow"):
            ops.append({"op": "remove", "path": f"{base}/shadow"})
        roles[p.name] = _entry(p, role, retire_after_seconds)
        after.append((p, role))
    return ops + roles_ops(document, roles) + metadata_ops(document, after)


def add_patch(
    document: dict[str, Any], current: list[Predictor], predictor: dict[str, Any]
) -> tuple[list[Op], list[Op]]:
    """Append a predictor (no traffic, role idle); also the patch that takes it out again."""
    ops, undo = guards(current), []
    live = [p for p in current if not p.shadow]
    for p in live:  # a lone predictor may rely on the implied 100: the webhook needs the sum
        if not p.traffic_set:
            path = pointer("spec", "predictors", p.index, "traffic")
            ops.append({"op": "add", "path": path, "value": p.traffic})
            undo.append({"op": "remove", "path": path})
    index = len(current)
    ops.append({"op": "add", "path": pointer("spec", "predictors", "-"), "value": predictor})
    name = str(predictor["name"])
    roles = {p.name: _unchanged(p) for p in current}
    roles[name] = {"role": IDLE, "started_at": now_utc()}
    ops += roles_ops(document, roles)
    undo = [
        {"op": "test", "path": pointer("spec", "predictors", index, "name"), "value": name},
        {"op": "remove", "path": pointer("spec", "predictors", index)},
        *undo,
        *restore_annotation(document, ROLES_ANNOTATION),
    ]
    return ops, undo


def remove_patch(document: dict[str, Any], current: list[Predictor], gone: Predictor) -> list[Op]:
    """Take one predictor out; a share it still had goes to the stable one (the sum stays 100)."""
    ops = guards(current)
    stable = next(p for p in current if p.role == STABLE)
    if gone.traffic > 0 and not gone.shadow:
        path = pointer("spec", "predictors", stable.index, "traffic")
        ops.append({"op": "add", "path": path, "value": stable.traffic + gone.traffic})
    ops.append({"op": "remove", "path": pointer("spec", "predictors", gone.index)})
    rest = [p for p in current if p.name != gone.name]
    roles = {p.name: _unchanged(p) for p in rest}
    return ops + roles_ops(document, roles) + metadata_ops(document, [(p, p.role) for p in rest])


def _unchanged(predictor: Predictor) -> dict[str, str]:
    entry = {"role": predictor.role, "started_at": predictor.started_at}
    return entry | ({"retire_at": predictor.retire_at} if predictor.retire_at else {})


def _has_key(document: dict[str, Any], index: int, key: str) -> bool:
    predictors = (document.get("spec") or {}).get("predictors") or []
    return index < len(predictors) and key in predictors[index]


def _ensure_map(document: dict[str, Any], field: str) -> list[Op]:
    if isinstance((document.get("metadata") or {}).get(field), dict):
        return []
    return [{"op": "add", "path": pointer("metadata", field), "value": {}}]


def roles_ops(document: dict[str, Any], roles: dict[str, dict[str, str]]) -> list[Op]:
    """Record every predictor's role in the metadata annotation (never in the pod template)."""
    value = json.dumps(roles, sort_keys=True, separators=(",", ":"))
    path = pointer("metadata", "annotations", ROLES_ANNOTATION)
    return [*_ensure_map(document, "annotations"), {"op": "add", "path": path, "value": value}]


def restore_annotation(document: dict[str, Any], key: str) -> list[Op]:
    """Ops that put one annotation back as it is in `document` (removed if it had none)."""
    value = ((document.get("metadata") or {}).get("annotations") or {}).get(key)
    path = pointer("metadata", "annotations", key)
    return (
        [{"op": "remove", "path": path}]
        if value is None
        else [{"op": "add", "path": path, "value": value}]
    )


def metadata_ops(document: dict[str, Any], after: list[tuple[Predictor, str]]) -> list[Op]:
    """Keep `ml-cicd/<role>-version` labels and `-model(-uri)` annotations true after a change."""
    metadata = document.get("metadata") or {}
    labels, annotations = metadata.get("labels") or {}, metadata.get("annotations") or {}
    wanted_labels: dict[str, str | None] = {}
    wanted_annotations: dict[str, str | None] = {}
    for role in (STABLE, CANARY, SHADOW):
        holder = next((p for p, r in after if r == role and p.model is not None), None)
        model = holder.model if holder is not None else None
        wanted_labels[f"{LABEL_PREFIX}/{role}-version"] = (
            label_value(model.version) if model else None
        )
        wanted_annotations[f"{LABEL_PREFIX}/{role}-model"] = (
            f"{model.name} version {model.version}" if model else None
        )
        wanted_annotations[f"{LABEL_PREFIX}/{role}-model-uri"] = model.uri if model else None
    roles = {r for _, r in after}
    if roles & {SHADOW, CANARY}:
        kind = SHADOW if SHADOW in roles else CANARY
    else:  # "standby": the stable beside a warm previous version or a started candidate
        kind = "single" if len(after) == 1 else "standby"
    wanted_labels[f"{LABEL_PREFIX}/rollout"] = kind
    ops = _map_ops(document, "labels", labels, wanted_labels)
    return ops + _map_ops(document, "annotations", annotations, wanted_annotations)


def _map_ops(
    document: dict[str, Any], field: str, have: dict[str, Any], want: dict[str, str | None]
) -> list[Op]:
    ops: list[Op] = []
    for key, value in want.items():
        path = pointer("metadata", field, key)
        if value is None and key in have:
            ops.append({"op": "remove", "path": path})
        elif value is not None and have.get(key) != value:
            ops.append({"op": "add", "path": path, "value": value})
    if ops and not isinstance((document.get("metadata") or {}).get(field), dict):
        ops = [*_ensure_map(document, field), *ops]
    return ops
