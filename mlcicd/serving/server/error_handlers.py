"""The model server's JSON errors: seldon reasons, and Flask handlers that keep 4xx a 4xx.

seldon-core 1.19 answers any exception that reaches Flask with a 500. SeldonModelServer hands
ERROR_HANDLERS to seldon (nested in the blueprint of its `model_error_handler`, next to
`/metrics`), which registers it on its app, so HTTP errors (404, 405, 415...) and requests seldon
itself cannot decode get their own status (and are counted with it in the metrics).
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify
from seldon_core.flask_utils import SeldonMicroserviceException
from werkzeug.exceptions import HTTPException

logger = logging.getLogger(__name__)

BAD_DATA = "MICROSERVICE_BAD_DATA"
NOT_READY = "MODEL_NOT_READY"
LOAD_FAILED = "MODEL_LOAD_FAILED"
INTERNAL_ERROR = "MICROSERVICE_INTERNAL_ERROR"


def _error_response(message: str, status: int, reason: str) -> Response:
    body = SeldonMicroserviceException(message, status_code=status, reason=reason).to_dict()
    response = jsonify(body)
    response.status_code = status
    return response


ERROR_HANDLERS = Blueprint("seldon_model_server_errors", __name__)


@ERROR_HANDLERS.app_errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    """404/405/415... keep their status; seldon's catch-all would turn them into 500."""
    status = error.code or 500
    reason = BAD_DATA if status < 500 else INTERNAL_ERROR
    return _error_response(f"{status} {error.name}: {error.description}", status, reason)


@ERROR_HANDLERS.app_errorhandler(ValueError)
@ERROR_HANDLERS.app_errorhandler(RecursionError)
def _undecodable_request(error: Exception) -> Response:
    """Raised by seldon's own request decoding (a `json=` form field, multipart parts).

    predict_raw and health_status_raw turn their own exceptions into SeldonMicroserviceException,
    so a bare ValueError/RecursionError reaching Flask comes from decoding the client's bytes.
    """
    logger.warning("undecodable request: %s: %s", type(error).__name__, error)
    return _error_response(f"request could not be decoded: {error}", 400, BAD_DATA)
