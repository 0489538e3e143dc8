"""What a cluster needs before the first gpu-k8s run: `python run.py cluster-setup --env ENV`.

Built in Python from the same config and stack variables the pipelines read, so every name
(namespaces, service accounts, Secrets) is the one the step pods and SeldonDeployments use; no
Helm or kustomize binary is needed on the runner or in CI. `deploy/k8s/<env>/` holds what the
shipped configs render with the documented example variables (a test keeps it in sync): the
reviewable reference, and what a GitOps tool can apply as it is.

Least privilege, by identity (RBAC; nothing cluster-wide but reading nodes and CRDs):
- step pods and the orchestrator pod (the stack's service account, pipelines namespace): Jobs
  (create, read, patch, delete: the orchestrator pod starts and stops the step Jobs), pods and
  their logs (read), Secrets (delete: the run's token Secret); SeldonDeployments in the serving
  namespaces (deploy, promote, rollback run in step pods).
- CI (`ml-cicd-ci`, pipelines namespace): Jobs and CronJobs (submit, watch, stop runs and the
  monitoring schedule), pods (kaniko's build pods: create, attach, delete; read logs), Secrets
  (the run's token), SeldonDeployments (status, stop, restart); nodes and CRDs read-only for
  `preflight`.
- model servers (`ml-cicd-model-server`, each serving namespace): no API access at all.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlcicd.config import RunConfig
from mlcicd.errors import PipelineInputError

CI_SERVICE_ACCOUNT = "ml-cicd-ci"
SELDON_GATEWAY = ("istio-system", "seldon-gateway")
"""Seldon Core v1's default `istio.gateway`: without it the ingress answers 404."""
PART_OF = {"app.kubernetes.io/part-of": "ml-cicd", "app.kubernetes.io/managed-by": "ml-cicd"}
SELDON_GROUP = "machinelearning.seldon.io"


@dataclass(frozen=True)
class ClusterNames:
    """Every name cluster-setup creates, from the config and the expanded stack file."""

    pipelines_namespace: str
    build_namespace: str
    runner_account: str
    push_secret: str
    pull_secrets: tuple[str, ...]
    release_secret: str
    serving_namespaces: dict[str, str]
    serving_accounts: dict[str, str | None]
    serving_secret: str | None
    registry: str


def component_config(spec: dict[str, Any], kind: str) -> dict[str, Any]:
    """The configuration of the stack file's first component of a kind ({} without one)."""
    components = spec.get("components", {}).get(kind) or [{}]
    configuration: dict[str, Any] = components[0].get("configuration") or {}
    return configuration


def orchestrator_context(spec: dict[str, Any]) -> str | None:
    """The kubeconfig context the stack's orchestrator uses (GPU_K8S_CONTEXT)."""
    context = component_config(spec, "orchestrator").get("kubernetes_context")
    return str(context) if context else None


def cluster_names(config: RunConfig, spec: dict[str, Any]) -> ClusterNames:
    """Read the names; a stack without a Kubernetes orchestrator or Seldon is refused."""
    orchestrator = component_config(spec, "orchestrator")
    deployer = component_config(spec, "model_deployer")
    if not orchestrator.get("kubernetes_namespace") or not deployer:
        raise PipelineInputError(
            f"cluster-setup needs a stack with a Kubernetes orchestrator and a Seldon model "
            f"deployer; stack '{spec.get('stack_name')}' has not both"
        )
    builder = component_config(spec, "image_builder")
    volumes = builder.get("volumes") or []
    push = next((v["secret"]["secretName"] for v in volumes if "secret" in v), "registry-push")
    serving = config.kubernetes.serving.environments
    return ClusterNames(
        pipelines_namespace=str(orchestrator["kubernetes_namespace"]),
        build_namespace=str(
            builder.get("kubernetes_namespace") or orchestrator["kubernetes_namespace"]
        ),
        runner_account=str(orchestrator.get("service_account_name") or "default"),
        push_secret=str(push),
        pull_secrets=tuple(config.kubernetes.pods.image_pull_secrets),
        release_secret=config.kubernetes.release_store_secret,
        serving_namespaces={
            env: str(settings.namespace or deployer["kubernetes_namespace"])
            for env, settings in serving.items()
        },
        serving_accounts={env: settings.service_account for env, settings in serving.items()},
        serving_secret=deployer.get("kubernetes_secret_name"),
        registry=str(component_config(spec, "container_registry").get("uri", "")),
    )


def _meta(name: str, namespace: str | None = None, **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {**PART_OF, **labels}}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def _namespace(name: str, enforce: str) -> dict[str, Any]:
    labels = {
        "pod-security.kubernetes.io/enforce": enforce,
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
    }
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(name, **labels)}


def _account(name: str, namespace: str, pulls: tuple[str, ...], token: bool) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(name, namespace),
        "imagePullSecrets": [{"name": secret} for secret in pulls],
        "automountServiceAccountToken": token,
    }


def _rule(groups: list[str], resources: list[str], verbs: list[str]) -> dict[str, Any]:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


def _role(name: str, namespace: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _meta(name, namespace),
        "rules": rules,
    }


def _binding(role: str, namespace: str, account: str, account_ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _meta(f"{role}-{account}", namespace),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": account_ns}],
    }


_SELDON_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"]


def manifests(config: RunConfig, spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Everything but the Secrets, in the order it is applied (namespaces first)."""
    names = cluster_names(config, spec)
    pipelines = names.pipelines_namespace
    serving_namespaces = sorted(set(names.serving_namespaces.values()))
    # kaniko's build pods run as root: a namespace they share can enforce "baseline" only
    shared_with_builds = names.build_namespace == pipelines
    documents: list[dict[str, Any]] = [
        _namespace(pipelines, "baseline" if shared_with_builds else "restricted")
    ]
    if not shared_with_builds:
        documents.append(_namespace(names.build_namespace, "baseline"))
    # Seldon's operator injects an executor container that keeps its capabilities: the serving
    # namespaces can enforce "baseline" only (and warn/audit on "restricted").
    documents += [_namespace(namespace, "baseline") for namespace in serving_namespaces]
    documents += [
        _account(names.runner_account, pipelines, names.pull_secrets, token=True),
        _account(CI_SERVICE_ACCOUNT, pipelines, (), token=False),
    ]
    for env in sorted(names.serving_namespaces):
        account = names.serving_accounts[env]
        if account:
            documents.append(
                _account(account, names.serving_namespaces[env], names.pull_secrets, token=False)
            )
    documents += [
        _role("ml-cicd-step-pods", pipelines, [
            _rule(["batch"], ["jobs"], ["create", "get", "list", "watch", "patch", "delete"]),
            _rule([""], ["pods"], ["get", "list", "watch"]),
            _rule([""], ["pods/log"], ["get"]),
            _rule([""], ["secrets"], ["delete"]),
        ]),
        _binding("ml-cicd-step-pods", pipelines, names.runner_account, pipelines),
        _role("ml-cicd-ci", pipelines, [
            _rule(["batch"], ["jobs"], ["create", "get", "list", "watch", "patch", "delete"]),
            _rule(["batch"], ["cronjobs"], ["create", "get", "list", "patch", "delete"]),
            _rule([""], ["pods"], ["create", "get", "list", "watch", "delete"]),
            _rule([""], ["pods/log"], ["get"]),
            _rule([""], ["pods/attach"], ["create", "get"]),
            _rule([""], ["secrets"], ["create", "get", "patch", "update", "delete"]),
        ]),
        _binding("ml-cicd-ci", pipelines, CI_SERVICE_ACCOUNT, pipelines),
    ]  # fmt: skip
    for namespace in serving_namespaces:
        documents.append(
            _role(
                "ml-cicd-seldon-deployer",
                namespace,
                [_rule([SELDON_GROUP], ["seldondeployments"], _SELDON_VERBS)],
            )
        )
        for account in (names.runner_account, CI_SERVICE_ACCOUNT):
            documents.append(_binding("ml-cicd-seldon-deployer", namespace, account, pipelines))
    documents += [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": _meta("ml-cicd-preflight"),
            "rules": [
                _rule([""], ["nodes"], ["get", "list"]),
                _rule(["apiextensions.k8s.io"], ["customresourcedefinitions"], ["get"]),
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": _meta(f"ml-cicd-preflight-{pipelines}"),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "ml-cicd-preflight",
            },
            "subjects": [
                {"kind": "ServiceAccount", "name": CI_SERVICE_ACCOUNT, "namespace": pipelines}
            ],
        },
        seldon_gateway(),
    ]
    return documents


def seldon_gateway() -> dict[str, Any]:
    """The Istio Gateway Seldon's VirtualServices attach to (plain HTTP on the ingress)."""
    namespace, name = SELDON_GATEWAY
    return {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "Gateway",
        "metadata": _meta(name, namespace),
        "spec": {
            "selector": {"istio": "ingressgateway"},
            "servers": [
                {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}
            ],
        },
    }


@dataclass
class SecretPlan:
    """One Secret to create from environment variables; `missing` names what is not set."""

    document: dict[str, Any]
    missing: list[str] = field(default_factory=list)


def _secret(name: str, namespace: str, kind: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(name, namespace),
        "type": kind,
        "stringData": data,
    }


def _values(variables: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """key -> value of each variable; the unset ones listed (optional ones end with '?')."""
    data, missing = {}, []
    for key, variable in variables.items():
        optional = variable.endswith("?")
        variable = variable.rstrip("?")
        value = os.environ.get(variable, "")
        if value:
            data[key] = value
        elif not optional:
            missing.append(variable)
    return data, missing


def secret_plans(config: RunConfig, spec: dict[str, Any]) -> list[SecretPlan]:
    """The Secrets the pods load, with their values from the runner's environment."""
    names = cluster_names(config, spec)
    plans: list[SecretPlan] = []
    login, missing = _values(
        {"username": "GPU_K8S_REGISTRY_USERNAME", "password": "GPU_K8S_REGISTRY_PASSWORD"}
    )
    server = names.registry.split("/", 1)[0]
    docker = {"auths": {server: {**login, "auth": base64.b64encode(
        f"{login.get('username', '')}:{login.get('password', '')}".encode()
    ).decode()}}}  # fmt: skip
    config_json = {".dockerconfigjson": json.dumps(docker, sort_keys=True)}
    pull_namespaces = [names.pipelines_namespace, *sorted(set(names.serving_namespaces.values()))]
    for secret in (names.push_secret, *names.pull_secrets):
        targets = [names.pipelines_namespace] if secret == names.push_secret else pull_namespaces
        for namespace in targets:
            document = _secret(secret, namespace, "kubernetes.io/dockerconfigjson", config_json)
            plans.append(SecretPlan(document, list(missing)))
    release, missing = _values(
        {
            "ML_CICD_RELEASE_STORE_URL": "ML_CICD_RELEASE_STORE_URL",
            "ML_CICD_RELEASE_SIGNING_KEY": "ML_CICD_RELEASE_SIGNING_KEY",
        }
    )
    if names.release_secret:
        document = _secret(names.release_secret, names.pipelines_namespace, "Opaque", release)
        plans.append(SecretPlan(document, missing))
    if names.serving_secret:
        storage, missing = _values(
            {
                "MLFLOW_TRACKING_USERNAME": "GPU_K8S_MLFLOW_USERNAME",
                "MLFLOW_TRACKING_PASSWORD": "GPU_K8S_MLFLOW_PASSWORD",
                "AWS_ACCESS_KEY_ID": "GPU_K8S_S3_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY": "GPU_K8S_S3_SECRET_ACCESS_KEY",
                "MLFLOW_S3_ENDPOINT_URL": "GPU_K8S_S3_ENDPOINT_URL?",
                "AWS_ENDPOINT_URL_S3": "GPU_K8S_S3_ENDPOINT_URL?",
            }
        )
        for namespace in sorted(set(names.serving_namespaces.values())):
            document = _secret(names.serving_secret, namespace, "Opaque", storage)
            plans.append(SecretPlan(document, list(missing)))
    return plans


def masked(document: dict[str, Any]) -> dict[str, Any]:
    """A Secret with every value shown as ***, for files and logs."""
    copy = json.loads(json.dumps(document))
    copy["stringData"] = dict.fromkeys(copy.get("stringData", {}), "***")
    return copy


def write(documents: list[dict[str, Any]], path: Path, header: str) -> Path:
    """Documents as one multi-document YAML file with a comment header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = yaml.safe_dump_all(documents, sort_keys=False, default_flow_style=False)
    path.write_text(
        "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines()) + body,
        encoding="utf-8",
    )
    return path
