"""One JSON error envelope for everything: {"error": {"code": ..., "message": ...}}, and for a request that fails
validation, "details": one {"field", "problem"} per problem, so a client can find the bad items of a batch."""
import logging

from flask import jsonify, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from app.request_ids import ENVIRON_KEY

log = logging.getLogger(__name__)


class ApiError(Exception):
    status, code = 400, "bad_request"
    retry_after: int | None = None  # seconds, sent as Retry-After

    def __init__(self, message: str, code: str | None = None, status: int | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.status = status or self.status
        self.headers = dict(headers or {})
        if self.retry_after is not None:
            self.headers["Retry-After"] = str(self.retry_after)


class NotReady(ApiError):
    status, code = 503, "not_ready"


# Error codes for HTTP statuses, also for the answers gunicorn writes itself (app/gunicorn_worker.py).
HTTP_CODES = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
              408: "request_timeout", 413: "payload_too_large", 414: "uri_too_long", 415: "unsupported_media_type",
              417: "expectation_failed", 431: "headers_too_large", 500: "internal_error", 501: "not_implemented"}
INTERNAL_ERROR = "internal error; see server log"


def error_response(status: int, code: str, message: str, details: list[dict] | None = None):
    body = {"code": code, "message": message}
    if details:
        body["details"] = details
    return jsonify(error=body), status


MAX_DETAILS = 1000  # one per item of the largest batch; 62 x 768 infinite features would be 47,616 (3.4 MB)


def problems(errors: list[dict]) -> list[dict]:
    """{'field': 'names.3', 'problem': reason} for each of pydantic's errors, at most MAX_DETAILS; its reasons never
    echo the input back."""
    return [{"field": ".".join(str(p) for p in err["loc"]) or "body", "problem": err["msg"]}
            for err in errors[:MAX_DETAILS]]


def describe(found: list[dict], total: int, shown: int = 5) -> str:
    """'field.path: reason' for the first few problems, and how many more there are."""
    text = "; ".join(f"{p['field']}: {p['problem']}" for p in found[:shown])
    return text + (f"; and {total - shown} more (details lists {len(found)})" if total > shown else "")


def init_app(app):
    @app.errorhandler(ApiError)
    def _api(e):
        response, status = error_response(e.status, e.code, e.message)
        response.headers.update(e.headers)  # e.g. Retry-After, Accept-Encoding
        return response, status

    @app.errorhandler(ValidationError)
    def _validation(e):
        errors = e.errors(include_url=False, include_input=False)
        found = problems(errors)
        if any(err["type"] == "json_invalid" for err in errors):
            return error_response(400, "malformed_json", describe(found, len(errors)))
        return error_response(400, "invalid_request", describe(found, len(errors)), found)

    @app.errorhandler(HTTPException)
    def _http(e):
        response, status = error_response(e.code or 500, HTTP_CODES.get(e.code, "http_error"), e.description or e.name)
        for name, value in e.get_headers():  # e.g. a 405's Allow (RFC 9110 15.5.6); the body stays ours
            if name.lower() != "content-type":
                response.headers[name] = value
        return response, status

    @app.errorhandler(Exception)
    def _unexpected(e):  # a bug, not bad input: log the trace, never show it
        request_id = request.environ.get(ENVIRON_KEY)
        log.exception("unhandled error in request %s", request_id, extra={"request_id": request_id})
        return error_response(500, "internal_error", f"{INTERNAL_ERROR} (request {request_id})")
