"""The Seldon model server: one registered MLflow model version behind `seldon-core-microservice`.

Run as `seldon-core-microservice mlcicd.serving.server.model_server.SeldonModelServer` with the
parameters of the contract in `mlcicd.serving.server.protocol`. Requests are validated against
the model's MLflow signature before the model sees them (`request_parsing`), so bad input is a
4xx with a message naming the problem and never a 5xx or a silently wrong prediction.

What answers is the version's ONNX export in onnxruntime (`runtime: onnx`, the default: numpy
in, numpy out, no torch, scikit-learn or pandas in the process) or its MLflow pyfunc
(`runtime: pyfunc`); a version registered without an export is served as its pyfunc whatever
the runtime says, and the log says so. The signature is read from the downloaded model's
MLmodel file, so the ONNX path never imports MLflow's model machinery.

Why the model loads in a background thread: seldon-core 1.19 calls `load()` inside each gunicorn
worker before the worker accepts a connection. Loading synchronously there would leave readiness
probes hanging in the listen backlog for the whole load (torch + MLflow take seconds), and a
failed load would stop gunicorn with an opaque "Worker failed to boot" (or, with a short
`seldon.io/rest-timeout`, a worker killed and restarted forever). Loading in the background lets
the worker answer at once: `/health/status` is 503 while loading, 503 naming the error after a
failed load, and 200 once the model is ready; predictions before then are 503 too.

The JSON request log is written by `request_log` (a background thread); what answers (ONNX or
pyfunc) is in `predictors`; the Flask error handlers seldon registers for this class, and the
error reasons, are in `error_handlers`; the Prometheus metrics served at `/metrics` (requests
by status, latency, predicted probabilities) are in `metrics`.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import warnings
from typing import Any

from flask import Blueprint
from seldon_core.flask_utils import SeldonMicroserviceException
from seldon_core.utils import getenv_as_bool

from mlcicd.serving.server.error_handlers import (
    BAD_DATA,
    ERROR_HANDLERS,
    INTERNAL_ERROR,
    LOAD_FAILED,
    NOT_READY,
)
from mlcicd.serving.server.metrics import ServerMetrics
from mlcicd.serving.server.predictors import (
    Predictor,
    feature_specs_of,
    load_predictor,
    model_directory,
)
from mlcicd.serving.server.protocol import DEFAULT_MAX_ROWS
from mlcicd.serving.server.request_log import RequestLog, request_id_of
from mlcicd.serving.server.request_parsing import (
    FeatureSpec,
    ParsedRequest,
    RequestError,
    decode_json_body,
    parse_prediction_request,
)

RUNTIMES = ("onnx", "pyfunc")

logger = logging.getLogger(__name__)

_REGISTRY_URI = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)/?$")


def _positive_int(name: str, value: int | str) -> int:
    """A Seldon parameter that must be a positive integer (they arrive as text or numbers)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive integer, got {value!r}") from None
    if number < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return number


class SeldonModelServer:
    """Serves one MLflow pyfunc `PackagedClassifier` through seldon-core's `predict_raw`."""

    def __init__(
        self,
        model_uri: str = "",
        model_name: str = "",
        model_version: str | int = "",
        request_log: str = "",
        max_rows: int | str = DEFAULT_MAX_ROWS,
        runtime: str = "onnx",
        threads: int | str = 1,
    ) -> None:
        # Seldon builds this object in its parent process and forks the workers from it, so
        # nothing heavy (MLflow, torch, open files, threads) may happen here; see load().
        self.model_uri = str(model_uri or "").strip()
        named = _REGISTRY_URI.match(self.model_uri)
        self.model_name = str(model_name or "") or (named["name"] if named else "")
        self.model_version = str(model_version or "") or (named["version"] if named else "")
        self.request_log = str(request_log or "").strip()
        self.max_rows = _positive_int("max_rows", max_rows)
        self.runtime = str(runtime or "onnx").strip()
        if self.runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
        self.threads = _positive_int("threads", threads)
        self.served_runtime = ""  # what answers once loaded: the runtime, or pyfunc as fallback
        self._passthrough = getenv_as_bool("PAYLOAD_PASSTHROUGH", default=False)
        self._lock = threading.Lock()
        self._state = "not loaded"
        self._load_error = ""
        self._model: Predictor | None = None
        self._features: list[FeatureSpec] = []
        self._request_log: RequestLog | None = None
        self.metrics = ServerMetrics(self.model_name, self.model_version)
        self._blueprint: Blueprint | None = None

    # seldon-core registers this Flask blueprint on its app (see wrapper.get_rest_microservice).
    @property
    def model_error_handler(self) -> Blueprint:
        """Proper 4xx for HTTP and decoding errors that seldon 1.19 would render as 500.

        Also this server's `/metrics` and the hooks that count every prediction request: seldon
        registers only this one blueprint, so ERROR_HANDLERS is nested inside it.
        """
        if self._blueprint is None:
            self._blueprint = self.metrics.blueprint(ERROR_HANDLERS)
        return self._blueprint

    def init_metadata(self) -> dict[str, Any]:
        """Name and version at `/api/v1.0/metadata`, known before the model has loaded.

        Deployers read it to see which version a pod serves while a rollout is under way.
        """
        return {
            "name": self.model_name,
            "versions": [self.model_version],
            "platform": "onnxruntime" if self.runtime == "onnx" else "mlflow-pyfunc",
            "custom": {"model_uri": self.model_uri, "runtime": self.runtime},
        }

    def load(self) -> None:
        """Start loading the model in the background; called by seldon in each worker."""
        with self._lock:
            if self._state in ("loading", "ready"):
                return
            self._state, self._load_error = "loading", ""
        try:  # opened now, so requests refused while loading are logged too
            if self.request_log and self._request_log is None:
                self._request_log = RequestLog(self.request_log)
        except Exception as error:
            logger.exception("cannot open the request log %s", self.request_log)
            with self._lock:
                self._state = "failed"
                self._load_error = (
                    f"request log {self.request_log}: {type(error).__name__}: {error}"
                )
            return
        threading.Thread(target=self._load_in_background, name="model-loader", daemon=True).start()

    def load_model(self) -> None:
        """Load synchronously (raises on failure): the version's files, then ONNX or pyfunc."""
        started = time.perf_counter()
        if not self.model_uri:
            raise ValueError("the model_uri parameter is empty; nothing to serve")
        request_log = self._request_log
        if self.request_log and request_log is None:
            request_log = RequestLog(self.request_log)
        folder = model_directory(self.model_uri)
        features = feature_specs_of(folder)
        model = load_predictor(folder, self.runtime, self.threads)
        features = _in_model_order(features, model.feature_names)
        _warm_up(model, features)
        with self._lock:
            self._model, self._features = model, features
            self._request_log = request_log
            self.served_runtime = model.runtime
            self._state, self._load_error = "ready", ""
        logger.info(
            "model %s version %s loaded from %s in %.1f s (%d features, runtime %s)",
            self.model_name or "?",
            self.model_version or "?",
            self.model_uri,
            time.perf_counter() - started,
            len(features),
            model.runtime,
        )

    def _load_in_background(self) -> None:
        try:
            self.load_model()
        except Exception as error:
            logger.exception("loading the model from %s failed", self.model_uri)
            with self._lock:
                self._state, self._load_error = "failed", f"{type(error).__name__}: {error}"

    def health_status_raw(self) -> dict[str, Any]:
        """Readiness for `/health/status`: 200 only once the model can answer."""
        with self._lock:
            state, error, features = self._state, self._load_error, len(self._features)
        if state == "failed":
            raise SeldonMicroserviceException(
                f"model failed to load from {self.model_uri}: {error}",
                status_code=503,
                reason=LOAD_FAILED,
            )
        if state != "ready":
            raise SeldonMicroserviceException(
                f"model is {state} ({self.model_uri})", status_code=503, reason=NOT_READY
            )
        return {"status": "ready", **self._tags(), "features": features}

    def predict_raw(self, msg: Any) -> Any:
        """Validate, predict, answer in the request's form; every failure is a JSON error."""
        started = time.perf_counter()
        is_proto = hasattr(msg, "DESCRIPTOR")  # a gRPC SeldonMessage
        is_raw = isinstance(msg, (bytes, bytearray)) or (self._passthrough and isinstance(msg, str))
        parsed: ParsedRequest | None = None
        payload: Any = msg
        request_id = ""
        try:
            model, features = self._ready_model()
            if is_raw:
                payload = decode_json_body(bytes(msg) if isinstance(msg, bytearray) else msg)
            elif is_proto:
                from seldon_core.utils import seldon_message_to_json

                payload = seldon_message_to_json(msg)
            request_id = request_id_of(payload)
            parsed = parse_prediction_request(payload, features, self.max_rows)
            labels, probabilities = model.predict(parsed, features)
        except RequestError as error:
            reason = NOT_READY if error.status_code == 503 else BAD_DATA
            self._log_request(
                request_id, started, error.status_code, parsed, payload, error=error.message
            )
            raise SeldonMicroserviceException(
                error.message, status_code=error.status_code, reason=reason
            ) from None
        except Exception as error:
            logger.exception("prediction failed")
            message = f"internal error while predicting: {type(error).__name__}: {error}"
            self._log_request(request_id, started, 500, parsed, payload, error=message)
            raise SeldonMicroserviceException(
                message, status_code=500, reason=INTERNAL_ERROR
            ) from None
        self.metrics.observe_probabilities(probabilities)
        meta = {"puid": request_id, "tags": self._tags()}
        if parsed.form == "data":
            rows = [[label, p] for label, p in zip(labels, probabilities, strict=True)]
            response: dict[str, Any] = {
                "data": {"names": ["prediction", "probability"], "ndarray": rows},
                "meta": meta,
            }
        else:
            response = {
                "jsonData": {"predictions": labels, "probabilities": probabilities},
                "meta": meta,
            }
        self._log_request(request_id, started, 200, parsed, payload, labels, probabilities)
        if is_raw:
            return json.dumps(response)
        if is_proto:
            from seldon_core.utils import json_to_seldon_message

            return json_to_seldon_message(response)
        return response

    def _ready_model(self) -> tuple[Predictor, list[FeatureSpec]]:
        with self._lock:
            state, error, model, features = (
                self._state,
                self._load_error,
                self._model,
                self._features,
            )
        if state == "failed":
            raise RequestError(f"model failed to load, cannot predict: {error}", 503)
        if state != "ready" or model is None:
            raise RequestError(f"model is {state}; retry when /health/status answers 200", 503)
        return model, features

    def _tags(self) -> dict[str, str]:
        return {
            "model_name": self.model_name,
            "model_version": self.model_version,
            "model_uri": self.model_uri,
            "runtime": self.served_runtime or self.runtime,
        }

    def _log_request(
        self,
        request_id: str,
        started: float,
        status: int,
        parsed: ParsedRequest | None,
        payload: Any,
        labels: list[str] | None = None,
        probabilities: list[float] | None = None,
        error: str | None = None,
    ) -> None:
        """Queue one JSON line; a failure to log must never fail the request."""
        if self._request_log is None:
            return
        try:
            self._request_log.write(
                started,
                request_id=request_id or request_id_of(None),
                model_name=self.model_name,
                model_version=self.model_version,
                status=status,
                parsed=parsed,
                payload=payload,
                labels=labels,
                probabilities=probabilities,
                error=error,
            )
        except Exception:
            logger.exception("could not queue the request log entry")


def _in_model_order(features: list[FeatureSpec], feature_names: Any) -> list[FeatureSpec]:
    """The signature's specs in the order the model's preprocessor expects its columns."""
    if feature_names is None:
        return features
    by_name = {spec.name: spec for spec in features}
    names = [str(name) for name in feature_names]
    if set(names) != set(by_name) or len(names) != len(by_name):
        raise ValueError(
            f"the model's feature names {names} differ from its signature {list(by_name)}"
        )
    return [by_name[name] for name in names]


def _warm_up(model: Predictor, features: list[FeatureSpec]) -> None:
    """One throwaway prediction, so the first client request does not pay for lazy set-up.

    The torch network is built on first use and onnxruntime plans its first run; a client's
    first request should not be the slow one a latency smoke test measures. A failure here is
    logged, not fatal: real requests decide.
    """
    filler = {"string": "", "boolean": False, "double": 0.0, "float": 0.0}
    row = {spec.name: None if not spec.required else filler.get(spec.type, 0) for spec in features}
    columns = {name: [value] for name, value in row.items()}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. the unknown category ""
            model.predict(ParsedRequest("jsonData", columns, 1), features)
    except Exception:
        logger.warning("warm-up prediction failed; serving anyway", exc_info=True)
