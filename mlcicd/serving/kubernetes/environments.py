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
from mlcicd.serving.kubernetes.targets import MAX_DEPLOYMENT_NAME_LENGTH, dns_label

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


def environment_backends(
    config: RunConfig,
    deployer_config: SeldonModelDeployerConfig,
    tracking_uri: str,
    registry_uri: str | None,
    *,
    api: CustomObjectsApiLike | None = None,
) -> dict[str, SeldonKubernetesBackend]:
    """A backend for staging and one for production, sharing one Kubernetes API client.

    The kubeconfig is read once (for the first environment) unless `api` is given.
    """
    serving = config.kubernetes.serving
    image = serving_image(config, registry_uri)
    backends: dict[str, SeldonKubernetesBackend] = {}
    for environment in ENVIRONMENTS:
        try:
            backend = SeldonKubernetesBackend.from_zenml_deployer_config(
                deployer_config,
                image,
                tracking_uri,
                deployment_name=deployment_name(config, environment),
                api=api,
                service_account=serving.service_account,
                resources=serving.resources,
                replicas=serving.replicas,
                max_rows=config.deployment.max_rows,
            )
        except ValueError as exc:
            raise ServingError(f"cannot serve {environment} on Kubernetes: {exc}") from None
        api = backend.api
        backends[environment] = backend
    return backends
