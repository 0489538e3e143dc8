"""What the breaches of one monitoring run ask for: at most one rollback and one retrain.

Pure: the config maps each kind of breach to an action (`monitoring.actions.<kind>`, else
`monitoring.action`; a data change to `monitoring.on_data_change`). A rollback goes first,
because it restores service; a retrain only produces a candidate that still needs every gate
and a human approval.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlcicd.config import MonitoringConfig
from mlcicd.reporting.monitoring import ActionName, ActionRecord, Breach, BreachKind

_ORDER: dict[ActionName, int] = {"rollback": 0, "retrain": 1, "none": 2}


def action_for(kind: BreachKind, config: MonitoringConfig) -> ActionName:
    """The configured action of one kind of breach."""
    if kind == "data_change":
        return config.on_data_change
    return config.actions.get(kind, config.action)


def decide_actions(breaches: Sequence[Breach], config: MonitoringConfig) -> list[ActionRecord]:
    """One record per distinct action, with the kinds of breach that asked for it."""
    wanted: dict[ActionName, list[BreachKind]] = {}
    for breach in breaches:
        kinds = wanted.setdefault(action_for(breach.kind, config), [])
        if breach.kind not in kinds:
            kinds.append(breach.kind)
    return [
        ActionRecord(breach_kinds=kinds, action=action, outcome="pending")
        for action, kinds in sorted(wanted.items(), key=lambda item: _ORDER[item[0]])
    ]
