"""`python run.py --env ENV preflight`: is all a gpu-k8s run needs there, before any build.

Each check asks the real service the way a run will (the ZenML server's health, MLflow's REST
API with the run's credentials, the artifact bucket, the registry's v2 API, the Kubernetes API)
with short timeouts, and reports what it checked, what it found, and the fix. Nothing is
created or changed. The Kubernetes checks take an injected API (tests have no cluster).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from mlcicd.config import RunConfig
from mlcicd.stack.cluster import SELDON_GATEWAY, SELDON_GROUP, cluster_names, component_config

TIMEOUT_SECONDS = 5.0
MIN_DRIVER_MAJOR = 580
"""The locked torch wheel brings CUDA 13, which needs an NVIDIA driver >= 580."""
DRIVER_LABEL = "nvidia.com/cuda.driver.major"
"""The label NVIDIA GPU feature discovery puts on each GPU node."""


@dataclass(frozen=True)
class Check:
    """One verdict: what was checked, whether it holds, what was found or what to do."""

    name: str
    ok: bool
    detail: str


def _http(url: str, **kwargs: Any) -> requests.Response:
    return requests.get(url, timeout=TIMEOUT_SECONDS, **kwargs)


def check_zenml_server() -> Check:
    """Step pods report to a ZenML server; a local store cannot run gpu-k8s."""
    url = os.environ.get("ZENML_STORE_URL", "").rstrip("/")
    name = "ZenML server"
    if not url.startswith(("http://", "https://")):
        return Check(name, False, "ZENML_STORE_URL is not set to the server's URL (or run "
                     "`zenml login <url>`); gpu-k8s needs a remote ZenML server")  # fmt: skip
    if not os.environ.get("ZENML_STORE_API_KEY"):
        return Check(name, False, "ZENML_STORE_API_KEY is not set (a service account's API key)")
    try:
        response = _http(f"{url}/health")
    except requests.RequestException as exc:
        return Check(name, False, f"{url} cannot be reached: {type(exc).__name__}")
    if response.status_code != 200:
        return Check(name, False, f"{url}/health answered HTTP {response.status_code}")
    return Check(name, True, f"{url} is healthy")


def check_mlflow(spec: dict[str, Any]) -> Check:
    """The tracking server and registry, with the credentials the run uses."""
    uri = str(component_config(spec, "experiment_tracker").get("tracking_uri", "")).rstrip("/")
    name = "MLflow tracking server"
    auth = (
        os.environ.get("GPU_K8S_MLFLOW_USERNAME", ""),
        os.environ.get("GPU_K8S_MLFLOW_PASSWORD", ""),
    )
    try:
        response = _http(
            f"{uri}/api/2.0/mlflow/registered-models/search",
            params={"max_results": 1},
            auth=auth if all(auth) else None,
        )
    except requests.RequestException as exc:
        return Check(name, False, f"{uri} cannot be reached: {type(exc).__name__} "
                     "(GPU_K8S_MLFLOW_TRACKING_URI; the pods must reach it too)")  # fmt: skip
    if response.status_code in (401, 403):
        return Check(name, False, f"{uri} refused the credentials (HTTP {response.status_code}): "
                     "check GPU_K8S_MLFLOW_USERNAME / GPU_K8S_MLFLOW_PASSWORD")  # fmt: skip
    if response.status_code != 200:
        return Check(name, False, f"{uri} answered HTTP {response.status_code} to the registry API")
    return Check(name, True, f"{uri}: registry readable with the run's credentials")


def check_artifact_store(spec: dict[str, Any]) -> Check:
    """The artifact bucket, with the S3 credentials and endpoint of the stack."""
    path = str(component_config(spec, "artifact_store").get("path", ""))
    endpoint = os.environ.get("GPU_K8S_S3_ENDPOINT_URL") or None
    name = "artifact store (S3)"
    bucket = path.removeprefix("s3://").split("/", 1)[0]
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError

        client = boto3.client(
            "s3", endpoint_url=endpoint,
            aws_access_key_id=os.environ.get("GPU_K8S_S3_ACCESS_KEY_ID"),
            aws_secret_access_key=os.environ.get("GPU_K8S_S3_SECRET_ACCESS_KEY"),
            config=Config(connect_timeout=TIMEOUT_SECONDS, read_timeout=TIMEOUT_SECONDS,
                          retries={"max_attempts": 1}),
        )  # fmt: skip
        client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "?")
        return Check(name, False, f"bucket {bucket} refused: {code} (GPU_K8S_ARTIFACT_PATH, "
                     "GPU_K8S_S3_ACCESS_KEY_ID / GPU_K8S_S3_SECRET_ACCESS_KEY)")  # fmt: skip
    except BotoCoreError as exc:
        where = endpoint or "AWS S3"
        return Check(name, False, f"{where} cannot be reached: {type(exc).__name__} "
                     "(GPU_K8S_S3_ENDPOINT_URL must resolve from runner and pods)")  # fmt: skip
    return Check(name, True, f"bucket {bucket} reachable at {endpoint or 'AWS S3'}")


def check_registry(config: RunConfig, spec: dict[str, Any]) -> Check:
    """The registry's v2 API with the login the pull and push Secrets carry."""
    registry = str(component_config(spec, "container_registry").get("uri", ""))
    host = registry.split("/", 1)[0]
    name = "container registry"
    auth = (
        os.environ.get("GPU_K8S_REGISTRY_USERNAME", ""),
        os.environ.get("GPU_K8S_REGISTRY_PASSWORD", ""),
    )
    if not all(auth):
        return Check(name, False, "GPU_K8S_REGISTRY_USERNAME / GPU_K8S_REGISTRY_PASSWORD are not "
                     "set: the pull and push Secrets need them")  # fmt: skip
    try:
        response = _http(f"https://{host}/v2/", auth=auth)
    except requests.RequestException as exc:
        return Check(name, False, f"https://{host}/v2/ cannot be reached: {type(exc).__name__}")
    if (
        response.status_code == 401
        and "bearer" in response.headers.get("WWW-Authenticate", "").lower()
    ):
        return Check(name, True, f"{host} answers (token login: the push itself proves access)")
    if response.status_code != 200:
        return Check(name, False, f"{host} refused the login: HTTP {response.status_code}")
    return Check(name, True, f"{host}: login accepted")


def _probe(name: str, probe: Callable[[], Check]) -> Check:
    """Run one Kubernetes probe; an API refusal or an unreachable server is its verdict."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        return probe()
    except ApiException as exc:
        fix = "run `python run.py cluster-setup --apply`" if exc.status == 404 else "check RBAC"
        return Check(name, False, f"HTTP {exc.status} {exc.reason}: {fix}")
    except HTTPError as exc:
        return Check(name, False, f"the Kubernetes API cannot be reached: {type(exc).__name__}")


def _exists(name: str, read: Callable[[], Any], found: str = "exists") -> Check:
    def probe() -> Check:
        read()
        return Check(name, True, found)

    return _probe(name, probe)


def kubernetes_checks(
    config: RunConfig, spec: dict[str, Any], core: Any, custom: Any, extensions: Any
) -> list[Check]:
    """Namespaces, Secrets, the Seldon CRD and gateway, GPU nodes and their driver."""
    names = cluster_names(config, spec)
    reachable = _exists(
        "Kubernetes API",
        lambda: core.get_api_resources(_request_timeout=TIMEOUT_SECONDS),
        "answers",
    )
    if not reachable.ok:
        skipped = "namespaces, Secrets, the Seldon CRD and gateway, GPU nodes not checked"
        return [Check(reachable.name, False, f"{reachable.detail} ({skipped})")]
    serving = sorted(set(names.serving_namespaces.values()))
    timeout = {"_request_timeout": TIMEOUT_SECONDS}

    def namespace(ns: str) -> Check:
        return _exists(f"namespace {ns}", lambda: core.read_namespace(ns, **timeout))

    def secret(ns: str, name: str) -> Check:
        return _exists(
            f"Secret {ns}/{name}", lambda: core.read_namespaced_secret(name, ns, **timeout)
        )

    checks = [reachable, *(namespace(ns) for ns in [names.pipelines_namespace, *serving])]
    wanted = [
        (names.pipelines_namespace, name)
        for name in (names.push_secret, names.release_secret, *names.pull_secrets)
    ]
    wanted += [
        (ns, name) for ns in serving for name in (*names.pull_secrets, names.serving_secret) if name
    ]
    checks += [secret(ns, name) for ns, name in wanted]
    crd = f"seldondeployments.{SELDON_GROUP}"
    checks.append(
        _exists(
            "Seldon Core v1 CRD",
            lambda: extensions.read_custom_resource_definition(crd, **timeout),
            f"{crd} installed",
        )
    )
    gateway_ns, gateway = SELDON_GATEWAY
    checks.append(
        _exists(
            "Seldon gateway",
            lambda: custom.get_namespaced_custom_object(
                "networking.istio.io", "v1beta1", gateway_ns, "gateways", gateway, **timeout
            ),
            f"{gateway_ns}/{gateway} exists",
        )
    )
    if config.kubernetes.gpu.count > 0:
        checks.append(_probe("GPU nodes", lambda: _gpu_nodes(config, core)))
    return checks


def _gpu_nodes(config: RunConfig, core: Any) -> Check:
    gpu = config.kubernetes.gpu
    selector = ",".join(f"{k}={v}" for k, v in gpu.node_selector.items())
    nodes = core.list_node(label_selector=selector, _request_timeout=TIMEOUT_SECONDS).items
    name = "GPU nodes"
    if not nodes:
        hint = "kubernetes.gpu.node_selector; NVIDIA GPU feature discovery sets them"
        return Check(name, False, f"no node has the labels {selector} ({hint})")
    usable, old = [], []
    for node in nodes:
        allocatable = int((node.status.allocatable or {}).get(gpu.resource_name, "0") or 0)
        driver = (node.metadata.labels or {}).get(DRIVER_LABEL, "")
        if allocatable < gpu.count:
            continue
        if not driver.isdigit() or int(driver) < MIN_DRIVER_MAJOR:
            old.append(f"{node.metadata.name} (driver {driver or 'unknown'})")
            continue
        usable.append(node.metadata.name)
    if usable:
        return Check(
            name,
            True,
            f"{len(usable)} node(s) with {gpu.count} {gpu.resource_name} and a driver >= "
            f"{MIN_DRIVER_MAJOR}: {', '.join(usable)}",
        )
    if old:
        return Check(
            name,
            False,
            f"the GPU nodes' NVIDIA driver is older than {MIN_DRIVER_MAJOR} (CUDA 13): "
            f"{', '.join(old)}",
        )
    return Check(
        name,
        False,
        f"no labelled node has {gpu.count} allocatable {gpu.resource_name} (is the NVIDIA "
        "device plugin running?)",
    )


def run_preflight(
    config: RunConfig, spec: dict[str, Any], kubernetes_apis: tuple[Any, Any, Any] | None
) -> list[Check]:
    """Every check; `kubernetes_apis` None when the kubeconfig context could not be loaded."""
    checks = [
        check_zenml_server(),
        check_mlflow(spec),
        check_artifact_store(spec),
        check_registry(config, spec),
    ]
    if kubernetes_apis is None:
        context = component_config(spec, "orchestrator").get("kubernetes_context")
        checks.append(
            Check(
                "Kubernetes API",
                False,
                f"the kubeconfig has no usable context '{context}' (GPU_K8S_CONTEXT, KUBECONFIG)",
            )
        )
        return checks
    return checks + kubernetes_checks(config, spec, *kubernetes_apis)


def kubernetes_apis(context: str | None) -> tuple[Any, Any, Any] | None:
    """CoreV1Api, CustomObjectsApi and ApiextensionsV1Api for the context, or None."""
    from kubernetes import client
    from kubernetes import config as kube_config
    from kubernetes.config.config_exception import ConfigException

    try:
        api = kube_config.new_client_from_config(context=context)
    except (ConfigException, OSError):
        return None
    api.configuration.retries = 0
    return client.CoreV1Api(api), client.CustomObjectsApi(api), client.ApiextensionsV1Api(api)
