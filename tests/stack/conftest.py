"""gpu-k8s without a cluster: dummy site values, a fake kubeconfig, the stack in the session store.

The stack is registered next to the session's local stack but never activated, so no other test
sees it as the active stack; pipelines are compiled against it explicitly, never run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers.kubernetes import GPU_K8S_ENV, write_kubeconfig
from tests.helpers.session import SESSION_DIR


@pytest.fixture(scope="session")
def gpu_k8s_env() -> Iterator[dict[str, str]]:
    """The site variables and KUBECONFIG for the whole session, restored afterwards."""
    from kubernetes.config import kube_config

    kubeconfig = write_kubeconfig(SESSION_DIR / "kubeconfig")
    wanted = {**GPU_K8S_ENV, "KUBECONFIG": str(kubeconfig)}
    saved = {key: os.environ.get(key) for key in wanted}
    os.environ.update(wanted)
    # The kubernetes client reads KUBECONFIG once, at import (possibly before this fixture).
    saved_location = kube_config.KUBE_CONFIG_DEFAULT_LOCATION
    kube_config.KUBE_CONFIG_DEFAULT_LOCATION = str(kubeconfig)
    yield wanted
    kube_config.KUBE_CONFIG_DEFAULT_LOCATION = saved_location
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def gpu_k8s_stack(zenml_client: Any, gpu_k8s_env: dict[str, str]) -> Any:
    """The registered (not activated) gpu-k8s stack, instantiated as ZenML runs it."""
    from zenml.stack import Stack

    from mlcicd.stack.loader import ensure_stack

    ensure_stack("gpu-k8s", activate=False, allow_local_store=True)
    assert zenml_client.active_stack_model.name == "local"
    model = zenml_client.get_stack("gpu-k8s", allow_name_prefix_match=False)
    return Stack.from_model(model)


@pytest.fixture(scope="session")
def staging_dry_run(gpu_k8s_stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Every pipeline compiled for gpu-k8s with the staging config, manifests written."""
    from mlcicd.config import load_config
    from mlcicd.runner.dry_run import _dry_run_in_store
    from mlcicd.stack.loader import load_stack_spec

    config, schema = load_config("staging")
    out = tmp_path_factory.mktemp("dry-run")
    return _dry_run_in_store(config, schema, "gpu-k8s", load_stack_spec("gpu-k8s"), out)
