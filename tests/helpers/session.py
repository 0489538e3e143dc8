"""The test session's private world: one temporary ZenML store, ML_CICD_HOME and serving ports.

Imported by tests/conftest.py before anything imports ZenML, so no test touches the user's own
store, MLflow database or model servers.
"""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SESSION_DIR = Path(tempfile.mkdtemp(prefix="ml-cicd-tests-"))
os.environ.update(
    {
        "ZENML_CONFIG_PATH": str(SESSION_DIR / "zenml"),
        "ZENML_LOCAL_STORES_PATH": str(SESSION_DIR / "zenml" / "local_stores"),
        "ML_CICD_HOME": str(SESSION_DIR / "home"),
        "ZENML_ANALYTICS_OPT_IN": "false",
        "GX_ANALYTICS_ENABLED": "false",
        "ZENML_LOGGING_VERBOSITY": "WARN",
        "ZENML_RUN_SINGLE_STEPS_WITHOUT_STACK": "true",
        "ZENML_ENABLE_RICH_TRACEBACK": "false",
    }
)
os.environ.pop("ZENML_STORE_URL", None)
os.environ.pop("ZENML_ACTIVE_STACK_ID", None)


def free_port() -> int:
    """A loopback port nothing listens on right now (the tests' one copy: this module must not
    import the product before it has set the environment)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Private serving ports, so tests never touch a developer's own staging server on 8601/8602.
SERVING_PORTS = {"staging": free_port(), "production": free_port()}


def stop_model_servers() -> None:
    """Stop every model server the session started (they outlive pipeline runs by design)."""
    from mlcicd.serving.local.backend import LocalSeldonBackend

    root = SESSION_DIR / "home" / "serving"
    if not root.is_dir():
        return
    backend = LocalSeldonBackend(root=root, ports=SERVING_PORTS, tracking_uri="unused")
    for environment in SERVING_PORTS:
        backend.stop(environment)
