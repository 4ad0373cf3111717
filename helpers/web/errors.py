"""One JSON error shape for every API failure: ``{"error", "message"[, "field"]}``."""
from __future__ import annotations

from typing import Optional

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException


class ApiError(Exception):
    """Raised by a route to answer with a 4xx JSON error."""

    def __init__(self, status: int, message: str, field: Optional[str] = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def error_response(status: int, error: str, message: str, field: Optional[str] = None):
    body = {"error": error, "message": message}
    if field is not None:
        body["field"] = field
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, _reason(exc.status), exc.message, exc.field)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        # HTML pages keep Flask's pages; everything else (the JSON API) gets JSON.
        if request.accept_mimetypes.best == "text/html" and not request.path.startswith("/api"):
            return exc
        return error_response(exc.code or 500, _reason(exc.code or 500), exc.description or exc.name,
                              _HTTP_FIELDS.get(exc.code))


# What a refusal by Flask itself (before a route's own checks) is about, so every 4xx names a field.
_HTTP_FIELDS = {400: "body", 404: "path", 405: "method", 413: "body", 415: "Content-Type"}


def _reason(status: int) -> str:
    return {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
            409: "conflict", 413: "too_large", 415: "unsupported_media_type"}.get(status, "error")
