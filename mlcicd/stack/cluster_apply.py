"""Apply cluster-setup's documents with server-side apply: re-running converges, never duplicates.

Run once per cluster by someone allowed to create namespaces and RBAC (a cluster admin); the
pipelines' own identities get only what `mlcicd.stack.cluster` lists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlcicd.errors import PipelineInputError

FIELD_MANAGER = "ml-cicd-cluster-setup"
Applier = Callable[[dict[str, Any]], None]

_HINTS = {
    401: "the kubeconfig's credentials were rejected",
    403: "this identity may not create it: cluster-setup needs a cluster admin (namespaces, RBAC)",
    404: "its API is not installed on the cluster",
    422: "the API server refused the document",
}


def _describe(document: dict[str, Any]) -> str:
    meta = document.get("metadata", {})
    where = f" in namespace {meta['namespace']}" if meta.get("namespace") else ""
    return f"{document.get('kind')} {meta.get('name')}{where}"


def kubernetes_applier(context: str | None) -> Applier:
    """Server-side apply through the kubeconfig context the stack names."""
    from kubernetes import config as kube_config
    from kubernetes import dynamic
    from kubernetes.config.config_exception import ConfigException

    try:
        api_client = kube_config.new_client_from_config(context=context)
    except (ConfigException, OSError) as exc:
        raise PipelineInputError(
            f"cannot load the kubeconfig context '{context}' (GPU_K8S_CONTEXT): {exc}"
        ) from None
    dynamic_client = dynamic.DynamicClient(api_client)

    def apply(document: dict[str, Any]) -> None:
        from kubernetes.client.exceptions import ApiException
        from kubernetes.dynamic.exceptions import ResourceNotFoundError
        from urllib3.exceptions import HTTPError

        meta = document["metadata"]
        try:
            resource = dynamic_client.resources.get(
                api_version=document["apiVersion"], kind=document["kind"]
            )
            dynamic_client.server_side_apply(
                resource, body=document, name=meta["name"], namespace=meta.get("namespace"),
                field_manager=FIELD_MANAGER, force_conflicts=True,
            )  # fmt: skip
        except ResourceNotFoundError:
            hint = (
                " (is Istio installed? Seldon Core v1 routes through its Gateway)"
                if document["apiVersion"].startswith("networking.istio.io")
                else ""
            )
            raise PipelineInputError(
                f"the cluster has no API for {document['apiVersion']} {document['kind']}{hint}"
            ) from None
        except ApiException as exc:
            hint = _HINTS.get(exc.status or 0, "")
            raise PipelineInputError(
                f"the Kubernetes API refused to apply {_describe(document)}: HTTP {exc.status} "
                f"{exc.reason}" + (f" ({hint})" if hint else "")
            ) from None
        except HTTPError as exc:
            raise PipelineInputError(
                f"could not reach the Kubernetes API of context '{context}': {exc}"
            ) from None

    return apply


def apply_all(documents: list[dict[str, Any]], applier: Applier, say: Callable[[str], None]) -> int:
    """Apply in order (namespaces first); stops at the first refusal, naming it."""
    for document in documents:
        applier(document)
        say(f"  applied {_describe(document)}")
    return len(documents)
