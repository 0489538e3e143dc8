"""Idempotent registration of the stacks in stacks/*.yaml.

`zenml stack import` prompts on name clashes, which CI cannot answer. This loader creates what is
missing, updates what changed, leaves the rest alone, and activates the stack.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from steps.errors import PipelineInputError

if TYPE_CHECKING:
    from zenml.client import Client

STACKS_DIR = Path(__file__).resolve().parent
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass
class StackSync:
    """What ensure_stack changed, for the run summary and the tests."""

    name: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    stack_created: bool = False
    stack_updated: bool = False


def available_stacks() -> list[str]:
    """Stack names with a spec file in stacks/."""
    return sorted(p.stem for p in STACKS_DIR.glob("*.yaml"))


def expand_placeholders(value: Any, source: str) -> Any:
    """Replace ${VAR} and ${VAR:-default} in every string; a missing VAR names itself."""
    if isinstance(value, dict):
        return {k: expand_placeholders(v, source) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_placeholders(v, source) for v in value]
    if not isinstance(value, str):
        return value

    def _sub(match: re.Match[str]) -> str:
        var, default = match.group(1), match.group(2)
        found = os.environ.get(var)
        if found not in (None, ""):
            return str(found)
        if default is not None:
            return default
        raise PipelineInputError(f"{source} needs the environment variable {var}, which is not set")

    return _PLACEHOLDER.sub(_sub, value)


def load_stack_spec(name: str) -> dict[str, Any]:
    """Read stacks/<name>.yaml with placeholders expanded and its shape checked."""
    path = STACKS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise PipelineInputError(
            f"unknown stack '{name}'; available stacks: {', '.join(available_stacks())}"
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PipelineInputError(f"stack file {path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("components"), dict):
        raise PipelineInputError(f"stack file {path} must have 'stack_name' and 'components'")
    if raw.get("stack_name") != name:
        raise PipelineInputError(
            f"stack file {path} declares stack_name '{raw.get('stack_name')}', expected '{name}'"
        )
    for ctype, comps in raw["components"].items():
        if not isinstance(comps, list) or not comps:
            raise PipelineInputError(f"{path}: components.{ctype} must be a non-empty list")
        for comp in comps:
            if not isinstance(comp, dict) or not {"name", "flavor"} <= comp.keys():
                raise PipelineInputError(f"{path}: every {ctype} needs a name and a flavor")
    spec: dict[str, Any] = expand_placeholders(raw, str(path))
    return spec


def _normalised(config: dict[str, Any]) -> str:
    return json.dumps(config, sort_keys=True, default=str)


def _sync_component(client: Client, ctype: Any, comp: dict[str, Any], sync: StackSync) -> None:
    wanted = comp.get("configuration") or {}
    label = f"{ctype.value}/{comp['name']}"
    try:
        existing = client.get_stack_component(
            ctype, name_id_or_prefix=comp["name"], allow_name_prefix_match=False
        )
    except KeyError:
        client.create_stack_component(
            name=comp["name"], flavor=comp["flavor"], component_type=ctype, configuration=wanted
        )
        sync.created.append(label)
        return
    if existing.flavor_name != comp["flavor"]:
        raise PipelineInputError(
            f"stack component {label} already exists with flavor '{existing.flavor_name}', "
            f"but the stack file wants '{comp['flavor']}'; delete it with "
            f"`zenml {ctype.value.replace('_', '-')} delete {comp['name']}` or rename it"
        )
    current = dict(existing.configuration)
    if _normalised(current) == _normalised(wanted):
        sync.unchanged.append(label)
        return
    update = {key: None for key in current if key not in wanted}
    update.update(wanted)
    client.update_stack_component(comp["name"], component_type=ctype, configuration=update)
    sync.updated.append(label)


# Flavors this project ships (source paths relative to the repository root), registered before
# any component that uses them.
PROJECT_FLAVORS = {"stacks.seldon.local_deployer.LocalSeldonModelDeployerFlavor": "model_deployer"}


def register_project_flavors(client: Client) -> list[str]:
    """Register the project's own flavors, or refresh them when their config schema changed."""
    from zenml.enums import StackComponentType
    from zenml.models import FlavorUpdate
    from zenml.stack.flavor import validate_flavor_source

    changed = []
    for source, component_type in PROJECT_FLAVORS.items():
        _, flavor = validate_flavor_source(source, StackComponentType(component_type))
        try:
            existing = client.get_flavor_by_name_and_type(flavor.name, flavor.type)
        except KeyError:
            client.create_flavor(source=source, component_type=flavor.type)
            changed.append(flavor.name)
            continue
        if existing.source != source or existing.config_schema != flavor.config_schema:
            client.zen_store.update_flavor(
                existing.id,
                FlavorUpdate(source=source, config_schema=flavor.config_schema),
            )
            changed.append(flavor.name)
    return changed


def ensure_stack(name: str, activate: bool = True) -> StackSync:
    """Register stacks/<name>.yaml if missing or changed, then activate it."""
    from zenml.client import Client
    from zenml.enums import StackComponentType

    spec = load_stack_spec(name)
    client = Client()
    sync = StackSync(name=name)
    register_project_flavors(client)
    wanted: dict[Any, list[str]] = {}
    for type_name, comps in spec["components"].items():
        try:
            ctype = StackComponentType(type_name)
        except ValueError:
            raise PipelineInputError(
                f"stack '{name}': unknown component type '{type_name}'"
            ) from None
        for comp in comps:
            _sync_component(client, ctype, comp, sync)
        wanted[ctype] = [c["name"] for c in comps]
    try:
        stack = client.get_stack(name, allow_name_prefix_match=False)
    except KeyError:
        client.create_stack(name=name, components=wanted)
        sync.stack_created = True
    else:
        have = {ctype: sorted(c.name for c in comps) for ctype, comps in stack.components.items()}
        if have != {ctype: sorted(names) for ctype, names in wanted.items()}:
            updates: dict[Any, list[str]] = {ctype: [] for ctype in have if ctype not in wanted}
            updates.update(wanted)
            client.update_stack(name, component_updates=updates)
            sync.stack_updated = True
    if activate:
        client.activate_stack(name)
    return sync
