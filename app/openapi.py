"""OpenAPI 3.1 document generated from the pydantic schemas that validate requests."""
from functools import cache

from pydantic.json_schema import models_json_schema

from app import schemas as s
from app.request_ids import HEADER, SANE

REF = "#/components/schemas/{model}"


def _json(model, examples: dict | None = None):
    content = {"schema": {"$ref": REF.format(model=model.__name__)}}
    if examples:  # what /docs/ offers to send (Swagger UI's "Try it out")
        content["examples"] = {k: {"summary": k, "value": v} for k, v in examples.items()}
    return {"application/json": content}


CLASSIFY_EXAMPLES = {"one name": {"name": "Nakamura"},
                     "a batch, top answer only": {"names": ["Ivanov", "Nguyen", "van der Berg"], "top_k": 1},
                     "another model": {"name": "O'Neill", "model": "lstm", "top_k": 5}}
REVIEW_EXAMPLES = {"one text": {"text": "手内肌萎缩"}, "a batch": {"texts": ["手内肌萎缩", "缩萎肌内手", "高血压"]}}


ERROR_DESCRIPTIONS = {400: "malformed_json, invalid_request (types, limits), unknown_model, invalid_text, "
                           "invalid_features, or malformed_body (a gzip body that does not unpack)",
                      408: "request_timeout: the request stopped arriving for REQUEST_READ_TIMEOUT seconds",
                      413: "payload_too_large: the body, or a gzip body once unpacked, is over MAX_CONTENT_LENGTH",
                      415: "unsupported_media_type: a Content-Type other than application/json, a charset other "
                           "than UTF-8, or a Content-Encoding other than gzip (the answer's Accept-Encoding says so)",
                      503: "not_ready (models loading, or entity review disabled) or overloaded (this worker is "
                               "busy with large entity batches: retry after Retry-After seconds)"}


REQUEST_ID_HEADER = {"description": "the caller's X-Request-ID when it matches the pattern, else a new id "
                                     "(32 hex digits); server log lines about the request name it",
                      "schema": {"type": "string", "pattern": f"^{SANE.pattern}$"}}
REQUEST_ID_PARAMETER = {"name": HEADER, "in": "header", "required": False,
                        "description": "an id of the caller's for this request, echoed back (another is made when it "
                                       "does not match the pattern)", "schema": {"type": "string"}}
ERROR_HEADERS = {415: {"Accept-Encoding": {"description": "the content codings a body may have",
                                           "schema": {"type": "string"}}},
                 503: {"Retry-After": {"description": "seconds, with code overloaded", "schema": {"type": "integer"}}}}
CONTENT_ENCODING_PARAMETER = {"name": "Content-Encoding", "in": "header", "required": False,
                              "description": "gzip: the body is gzip-compressed (unpacked up to the same body limit)",
                              "schema": {"type": "string", "enum": ["gzip", "identity"]}}


def _responses(ok_models, *errors):
    ok = {"oneOf": [{"$ref": REF.format(model=m.__name__)} for m in ok_models]} if len(ok_models) > 1 \
        else {"$ref": REF.format(model=ok_models[0].__name__)}
    out = {"200": {"description": "OK", "content": {"application/json": {"schema": ok}}}}
    for code in errors:
        out[str(code)] = {"description": ERROR_DESCRIPTIONS.get(code, "error"), "content": _json(s.ErrorResponse)}
        if code in ERROR_HEADERS:
            out[str(code)]["headers"] = ERROR_HEADERS[code]
    return out


@cache
def document() -> dict:
    models = [(m, "validation") for m in (s.ClassifyRequest, s.ReviewRequest)] + \
             [(m, "serialization") for m in (s.ClassifyResponse, s.ClassifyBatchResponse, s.ReviewResponse,
                                             s.ReviewBatchResponse, s.FeatureReviewResponse, s.Health, s.Ready,
                                             s.ErrorResponse)]
    _, defs = models_json_schema(models, ref_template=REF)
    post_errors = (400, 408, 413, 415, 503)
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "Name origin & medical entity review service", "version": "1.0.0",
                 "description": "Predictions are statistical estimates, never identity; do not gate anything on them."},
        "paths": {
            "/classify": {"post": {"summary": "Languages/countries a name most likely comes from",
                                   "requestBody": {"required": True,
                                                   "content": _json(s.ClassifyRequest, CLASSIFY_EXAMPLES)},
                                   "responses": _responses([s.ClassifyResponse, s.ClassifyBatchResponse], *post_errors)}},
            "/review-entity": {"post": {"summary": "Is a candidate string a valid medical entity?",
                                        "requestBody": {"required": True,
                                                        "content": _json(s.ReviewRequest, REVIEW_EXAMPLES)},
                                        "responses": _responses([s.ReviewResponse, s.ReviewBatchResponse,
                                                                 s.FeatureReviewResponse], *post_errors)}},
            "/health": {"get": {"summary": "Liveness", "responses": _responses([s.Health])}},
            "/ready": {"get": {"summary": "Readiness: all expected models loaded",
                               "responses": {**_responses([s.Ready]),
                                             "503": {"description": "not ready", "content": _json(s.Ready)}}}},
            "/metrics": {"get": {"summary": "Prometheus exposition",
                                 "responses": {"200": {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/openapi.json": {"get": {"summary": "This document",
                                      "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
        },
        "components": {"schemas": defs["$defs"], "headers": {"RequestId": REQUEST_ID_HEADER},
                       "parameters": {"RequestId": REQUEST_ID_PARAMETER,
                                      "ContentEncoding": CONTENT_ENCODING_PARAMETER}},
    }
    for operations in doc["paths"].values():  # every operation takes an X-Request-ID and every answer has one
        for method, operation in operations.items():
            operation["parameters"] = [{"$ref": "#/components/parameters/RequestId"}]
            if method == "post":  # a body may come gzipped
                operation["parameters"].append({"$ref": "#/components/parameters/ContentEncoding"})
            for response in operation["responses"].values():
                response.setdefault("headers", {})[HEADER] = {"$ref": "#/components/headers/RequestId"}
    return doc
