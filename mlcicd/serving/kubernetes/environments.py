"""Which SeldonDeployment serves which environment, resolved from the run config and the stack.

One SeldonKubernetesBackend per environment (`<prefix>-<environment>`), all built from the stack's
Seldon model deployer settings (namespace, ingress, storage secret, kube context) plus the serving
image and the `kubernetes.serving` section of the environment config.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlcicd.config import RunConfig
from mlcicd.serving.contract import ServingError
from mlcicd.serving.kubernetes.client import CustomObjectsApiLike, SeldonKubernetesBackend
from mlcicd.serving.kubernetes.targets import (
    MAX_DEPLOYMENT_NAME_LENGTH,
    RequestLogSink,
    dns_label,
)

if TYPE_CHECKING:
    from zenml.integrations.seldon.flavors.seldon_model_deployer_flavor import (
        SeldonModelDeployerConfig,
    )

ENVIRONMENTS = ("staging", "production")


def deployment_name(config: RunConfig, environment: str) -> str:
    """`<prefix>-<environment>`; the prefix defaults to the model name as a DNS label."""
    prefix = config.kubernetes.serving.deployment_prefix or dns_label(
        config.model_name, MAX_DEPLOYMENT_NAME_LENGTH - len("-production")
    )
    return f"{prefix}-{environment}"


def serving_image(config: RunConfig, registry_uri: str | None) -> str:
    """The configured image, else `<stack registry>/<image_repository>:<image_tag>`."""
    serving = config.kubernetes.serving
    if serving.image:
        return serving.image
    if not registry_uri:
        raise ServingError(
            "the stack has no container registry to take the serving image from; set "
            "kubernetes.serving.image in the environment config"
        )
    return f"{registry_uri.rstrip('/')}/{serving.image_repository}:{serving.image_tag}"


def request_log_sink(
    config: RunConfig,
    environment: str,
    artifact_path: str | None,
    artifact_endpoint: str | None = None,
) -> RequestLogSink | None:
    """Where the environment's pods ship their request log; None when the sink is off.

    The default location is next to the artifacts (`<artifact store>/request-logs/<env>`), so
    the credentials the pods and the monitor already have reach it.
    """
    sink = config.kubernetes.serving.request_log_sink
    if not sink.enabled:
        return None
    base = sink.url
    if base is None:
        if not artifact_path or not artifact_path.startswith("s3://"):
            raise ServingError(
                f"the request logs of {environment} need an S3 location: the stack's artifact "
                f"store is {artifact_path or 'not set'}; set "
                "kubernetes.serving.request_log_sink.url to s3://<bucket>/<prefix> (or "
                "kubernetes.serving.request_log_sink.enabled: false to keep them in the pods)"
            )
        base = f"{artifact_path.rstrip('/')}/request-logs"
    bucket, _, prefix = base.removeprefix("s3://").partition("/")
    try:
        return RequestLogSink(
            bucket=bucket,
            prefix=f"{prefix.strip('/')}/{environment}".lstrip("/"),
            endpoint_url=sink.endpoint_url or artifact_endpoint,
            region=sink.region,
            upload_interval_seconds=sink.upload_interval_minutes * 60.0,
            max_object_bytes=sink.max_object_mb * 1024 * 1024,
            resources=sink.resources,
        )
    except ValueError as error:
        raise ServingError(
            f"kubernetes.serving.request_log_sink for {environment}: {error}"
        ) from None


def environment_backends(
    config: RunConfig,
    deployer_config: SeldonModelDeployerConfig,
    tracking_uri: str,
    registry_uri: str | None,
    *,
    api: CustomObjectsApiLike | None = None,
    artifact_path: str | None = None,
    artifact_endpoint: str | None = None,
) -> dict[str, SeldonKubernetesBackend]:
    """A backend for staging and one for production, sharing one Kubernetes API client.

    The kubeconfig is read once (for the first environment) unless `api` is given.
    """
    serving = config.kubernetes.serving
    image = serving_image(config, registry_uri)
    backends: dict[str, SeldonKubernetesBackend] = {}
    for environment in ENVIRONMENTS:
        sink = request_log_sink(config, environment, artifact_path, artifact_endpoint)
        settings = serving.environments[environment]
        try:
            backend = SeldonKubernetesBackend.from_zenml_deployer_config(
                deployer_config,
                image,
                tracking_uri,
                deployment_name=deployment_name(config, environment),
                api=api,
                namespace=settings.namespace,
                service_account=settings.service_account,
                resources=settings.resources or serving.resources,
                replicas=settings.replicas,
                max_rows=config.deployment.max_rows,
                runtime=config.packaging.serving_runtime,
                threads=config.packaging.serving_threads,
                request_log_sink=sink,
                image_pull_secrets=tuple(config.kubernetes.pods.image_pull_secrets),
                pod_security_context=config.kubernetes.pods.pod_security_context(),
            )
        except ValueError as exc:
            raise ServingError(f"cannot serve {environment} on Kubernetes: {exc}") from None
        api = backend.api
        backends[environment] = backend
    return backends
