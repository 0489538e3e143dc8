"""The package stage: the served model exported to ONNX and held to the pyfunc it came from."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from mlcicd.config.base import StrictModel


class PackagingConfig(StrictModel):
    """ONNX export and its parity gate; `serving_runtime` picks what the model servers run.

    With `enabled: false` nothing is exported, the parity gate reports "skipped" and the servers
    must run the pyfunc (`serving_runtime: pyfunc`): a version without an ONNX file has nothing
    else to serve.
    """

    enabled: bool = True
    # ONNX operator set of the exported graph; 19 is the first whose Equal compares strings
    opset: int = Field(21, ge=19, le=23)
    # largest |pyfunc - onnx| allowed on any golden-set probability; classes must be identical
    parity_tolerance: float = Field(1e-5, gt=0.0, le=0.01)
    serving_runtime: Literal["onnx", "pyfunc"] = "onnx"
    # onnxruntime's intra-op threads per server worker; 1 keeps a small server from fighting the
    # machine's other work (the cause of HistGradientBoosting's p95 outliers under load)
    serving_threads: int = Field(1, ge=1, le=64)

    @model_validator(mode="after")
    def _runtime_has_a_model(self) -> PackagingConfig:
        if self.serving_runtime == "onnx" and not self.enabled:
            raise ValueError(
                "packaging.serving_runtime is 'onnx' but packaging.enabled is false: a version "
                "without an ONNX export cannot be served by onnxruntime; set "
                "packaging.serving_runtime: pyfunc, or enable packaging"
            )
        return self
