"""Stored SeldonDeployment documents read back: what they serve, re-applying them, restarting.

The cluster returns a document with its `.status` and server-owned metadata; these functions
take out what this project wrote (the stable predictor's model parameters) and turn a stored
document into one that can be applied again, as it was or with its pods rolled.
"""

from __future__ import annotations

import copy
from typing import Any

from mlcicd.serving.contract import ModelRef
from mlcicd.serving.kubernetes.manifests import LABEL_PREFIX
from mlcicd.serving.kubernetes.targets import STABLE

RESTARTED_AT = f"{LABEL_PREFIX}/restarted-at"
# Server-owned metadata that must not be sent back when a stored document is re-applied.
_SERVER_FIELDS = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields")


def clean_for_reapply(document: dict[str, Any]) -> dict[str, Any]:
    """A stored document as it can be applied again: no status, no server-owned metadata."""
    body = copy.deepcopy(document)
    body.pop("status", None)
    metadata = body.setdefault("metadata", {})
    for key in _SERVER_FIELDS:
        metadata.pop(key, None)
    return body


def served_model(document: dict[str, Any]) -> ModelRef | None:
    """The model the stable predictor serves, read back from its graph parameters."""
    for predictor in (document.get("spec") or {}).get("predictors") or []:
        if predictor.get("name") != STABLE:
            continue
        params = {
            p.get("name"): str(p.get("value"))
            for p in (predictor.get("graph") or {}).get("parameters") or []
        }
        if {"model_name", "model_version", "model_uri"} <= params.keys():
            return ModelRef(params["model_name"], params["model_version"], params["model_uri"])
    return None


def restarted(document: dict[str, Any], at: str) -> dict[str, Any]:
    """The document to re-apply so the operator rolls every pod: `at` in each pod template."""
    body = clean_for_reapply(document)
    body["metadata"].setdefault("annotations", {})[RESTARTED_AT] = at
    for predictor in body["spec"]["predictors"]:
        for component in predictor.get("componentSpecs") or []:
            meta = component.setdefault("metadata", {})
            meta.setdefault("annotations", {})[RESTARTED_AT] = at
    return body
