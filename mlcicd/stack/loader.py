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

from mlcicd.errors import PipelineInputError
from mlcicd.paths import STACKS_DIR

if TYPE_CHECKING:
    from zenml.client import Client

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_EMPTY_OPTIONAL = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:-\}")
_SECRET_REFERENCE = re.compile(r"\{\{\s*([^.\s{}]+)\.([^\s{}]+)\s*\}\}")


@dataclass
class StackSync:
    """What ensure_stack changed, for the run summary and the tests."""

    name: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    stack_created: bool = False
    stack_updated: bool = False
    secrets_created: list[str] = field(default_factory=list)
    secrets_updated: list[str] = field(default_factory=list)


def available_stacks() -> list[str]:
    """Stack names with a spec file in stacks/."""
    return sorted(p.stem for p in STACKS_DIR.glob("*.yaml"))


def expand_placeholders(value: Any, source: str) -> Any:
    """Replace ${VAR} and ${VAR:-default} in every string; a missing VAR names itself.

    A mapping value that is exactly `${VAR:-}` and expands to nothing is left out, so optional
    settings (an S3 endpoint for MinIO, say) fall back to the component's own default.
    """
    if isinstance(value, dict):
        expanded = {k: expand_placeholders(v, source) for k, v in value.items()}
        return {
            k: v
            for k, v in expanded.items()
            if not (v == "" and _EMPTY_OPTIONAL.fullmatch(str(value[k])))
        }
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
    _check_secrets_shape(raw.get("secrets"), path)
    missing = missing_variables(raw)
    if len(missing) > 1:
        raise PipelineInputError(
            f"stack '{name}' ({path}) needs these environment variables, which are not set: "
            f"{', '.join(missing)}" + (" (see docs/gpu-k8s.md)" if name == "gpu-k8s" else "")
        )
    spec: dict[str, Any] = expand_placeholders(raw, str(path))
    return spec


def missing_variables(value: Any) -> list[str]:
    """Every ${VAR} without a default that is unset or empty, in order of appearance."""
    found: list[str] = []
    if isinstance(value, dict):
        for item in value.values():
            found.extend(v for v in missing_variables(item) if v not in found)
    elif isinstance(value, list):
        for item in value:
            found.extend(v for v in missing_variables(item) if v not in found)
    elif isinstance(value, str):
        for match in _PLACEHOLDER.finditer(value):
            var, default = match.group(1), match.group(2)
            if default is None and os.environ.get(var) in (None, "") and var not in found:
                found.append(var)
    return found


def _check_secrets_shape(secrets: Any, path: Path) -> None:
    if secrets is None:
        return
    if not isinstance(secrets, list):
        raise PipelineInputError(f"{path}: 'secrets' must be a list of {{name, values}}")
    for secret in secrets:
        if (
            not isinstance(secret, dict)
            or not isinstance(secret.get("name"), str)
            or not isinstance(secret.get("values"), dict)
            or not secret["values"]
        ):
            raise PipelineInputError(
                f"{path}: every entry of 'secrets' needs a 'name' and a non-empty 'values' "
                f"mapping, got {secret!r}"
            )


def requires_remote_server(spec: dict[str, Any]) -> bool:
    """A stack whose steps run anywhere but this process needs a ZenML server they can reach."""
    orchestrators = spec["components"].get("orchestrator") or []
    return any(comp["flavor"] != "local" for comp in orchestrators)


def require_remote_store(stack_name: str) -> None:
    """Refuse a remote stack on a local (SQLite) ZenML store, saying what is needed instead."""
    from zenml.client import Client
    from zenml.enums import StoreType

    store = Client().zen_store
    if store.type == StoreType.REST:
        return
    raise PipelineInputError(
        f"stack '{stack_name}' runs its steps in a Kubernetes cluster, which must reach a ZenML "
        f"server; this client uses a local {store.type.value} store ({store.url}). Set "
        "ZENML_STORE_URL=https://<your zenml server> and ZENML_STORE_API_KEY=<a service account "
        "API key> (or run `zenml login <url>`), then run again. `python run.py --stack "
        f"{stack_name} --dry-run` needs no server. Set-up: docs/gpu-k8s.md"
    )


def secret_references(spec: dict[str, Any]) -> dict[str, set[str]]:
    """Secret name -> keys that the components reference as {{name.key}}."""
    refs: dict[str, set[str]] = {}

    def _walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                _walk(item)
        elif isinstance(value, list):
            for item in value:
                _walk(item)
        elif isinstance(value, str):
            for match in _SECRET_REFERENCE.finditer(value):
                refs.setdefault(match.group(1), set()).add(match.group(2))

    _walk(spec["components"])
    return refs


def sync_secrets(client: Client, spec: dict[str, Any], sync: StackSync) -> None:
    """Create or update the declared secrets; every referenced secret/key must then exist.

    Runs before the components: ZenML resolves {{secret.key}} while validating a component.
    """
    declared = {
        s["name"]: {k: str(v) for k, v in s["values"].items()} for s in spec.get("secrets") or []
    }
    for secret_name, values in declared.items():
        empty = sorted(k for k, v in values.items() if not v)
        if empty:
            raise PipelineInputError(
                f"stack '{spec['stack_name']}': secret '{secret_name}' has empty value(s) for "
                f"{', '.join(empty)}"
            )
        try:
            existing = client.get_secret(
                secret_name, allow_partial_name_match=False, allow_partial_id_match=False
            )
        except KeyError:
            client.create_secret(secret_name, values=values)
            sync.secrets_created.append(secret_name)
            continue
        current = {k: v.get_secret_value() for k, v in existing.values.items() if v is not None}
        changed = {k: v for k, v in values.items() if current.get(k) != v}
        if changed:
            client.update_secret(existing.id, add_or_update_values=changed)
            sync.secrets_updated.append(secret_name)
    for secret_name, keys in sorted(secret_references(spec).items()):
        if secret_name in declared:
            have = set(declared[secret_name])
        else:
            try:
                secret = client.get_secret(
                    secret_name, allow_partial_name_match=False, allow_partial_id_match=False
                )
            except KeyError:
                raise PipelineInputError(
                    f"stack '{spec['stack_name']}' references the ZenML secret '{secret_name}' "
                    f"(keys: {', '.join(sorted(keys))}), which neither exists nor is declared "
                    f"under 'secrets:' in the stack file; create it with `zenml secret create "
                    f"{secret_name} " + " ".join(f"--{k}=..." for k in sorted(keys)) + "`"
                ) from None
            have = set(secret.values)
        absent = sorted(keys - have)
        if absent:
            raise PipelineInputError(
                f"stack '{spec['stack_name']}': the ZenML secret '{secret_name}' has no key(s) "
                f"{', '.join(absent)}, which the components reference"
            )


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
PROJECT_FLAVORS = {
    "mlcicd.serving.local.deployer.LocalSeldonModelDeployerFlavor": "model_deployer",
    "mlcicd.monitoring.alerter.AuditLogAlerterFlavor": "alerter",
    "mlcicd.monitoring.alerter.SlackAlertsFlavor": "alerter",
}


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


def for_environment(spec: dict[str, Any], environment: str) -> dict[str, Any]:
    """The stack as registered for one environment: `<stack>-<env>`, own components and secrets.

    `gpu-k8s-mlflow` becomes `gpu-k8s-staging-mlflow`, references included. On a shared ZenML
    server every caller registers from its own variables and secrets; one registration per
    environment means a staging deploy never rewrites what a production run's pods resolve their
    credentials from.
    """
    stack = str(spec["stack_name"])
    instance = f"{stack}-{environment}"

    def rename(name: str) -> str:
        return f"{instance}{name[len(stack) :]}" if name.startswith(f"{stack}-") else name

    secrets = {str(s["name"]) for s in spec.get("secrets") or []}
    text = json.dumps(spec)
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace("{{" + secret + ".", "{{" + rename(secret) + ".")
    renamed: dict[str, Any] = json.loads(text)
    renamed["stack_name"] = instance
    for secret in renamed.get("secrets") or []:
        secret["name"] = rename(secret["name"])
    for comps in renamed["components"].values():
        for comp in comps:
            comp["name"] = rename(comp["name"])
    return renamed


def ensure_stack(
    name: str,
    activate: bool = True,
    allow_local_store: bool = False,
    environment: str | None = None,
) -> StackSync:
    """Register stacks/<name>.yaml if missing or changed, then activate it.

    With `environment`, a remote stack is registered as `<name>-<environment>` (for_environment).
    A stack that runs steps remotely is refused on a local store unless `allow_local_store`
    (the dry run and the offline tests register it into a throwaway store on purpose).
    """
    from zenml.client import Client
    from zenml.enums import StackComponentType

    from mlcicd.serving.local.deployer import refresh_service_records

    spec = load_stack_spec(name)
    remote = requires_remote_server(spec)
    if remote and environment:
        spec = for_environment(spec, environment)
        name = str(spec["stack_name"])
    if remote and not allow_local_store:
        require_remote_store(name)
    client = Client()
    sync = StackSync(name=name)
    register_project_flavors(client)
    refresh_service_records(client)  # records written before a move of the deployer's module
    sync_secrets(client, spec, sync)
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
