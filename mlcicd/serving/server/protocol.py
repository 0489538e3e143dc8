"""Serving with seldon-core: the model server class and the deployment backends.

The contract every piece here shares (the local process backend, the Kubernetes backend, the
serving image and the smoke test):

- The model server is the class MODEL_SERVER_CLASS, run by `seldon-core-microservice` (REST).
- It is configured by these parameters (SeldonDeployment `graph.parameters`, or the
  `--parameters` JSON / PREDICTIVE_UNIT_PARAMETERS locally): `model_uri` (an MLflow URI naming an
  explicit version, e.g. `models:/adult-income-classifier/3`, or a local/remote path to the MLflow
  model directory), `model_name`, `model_version`, `request_log` (path of the append-only JSONL
  request log; empty disables it), `max_rows` (largest accepted batch), `runtime` (`onnx`, the
  version's ONNX export in onnxruntime, or `pyfunc`) and `threads` (onnxruntime's threads).
- MLflow is reached through the MLFLOW_TRACKING_URI environment variable.
- Predictions are served at PREDICTIONS_PATH; readiness at READINESS_PATH.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MODEL_SERVER_CLASS = "mlcicd.serving.server.model_server.SeldonModelServer"
PREDICTIONS_PATH = "/api/v1.0/predictions"
READINESS_PATH = "/health/status"
LIVENESS_PATH = "/health/ping"
DEFAULT_MAX_ROWS = 10_000
DEFAULT_RUNTIME = "onnx"


@dataclass(frozen=True)
class ServerOptions:
    """The server parameters a deployment sets besides which model: batch limit and runtime."""

    max_rows: int = DEFAULT_MAX_ROWS
    runtime: str = DEFAULT_RUNTIME
    threads: int = 1

    def parameters(self) -> list[dict[str, Any]]:
        """As Seldon graph parameters (typed, as seldon-core parses them)."""
        return [
            {"name": "max_rows", "value": str(self.max_rows), "type": "INT"},
            {"name": "runtime", "value": self.runtime, "type": "STRING"},
            {"name": "threads", "value": str(self.threads), "type": "INT"},
        ]
