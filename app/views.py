"""HTTP routes; each view: body (app/request_body.py) -> remembered response? -> parse and validate -> one
service call -> respond.

A byte-identical repeat of a small request whose every item was a cache hit is answered from the
worker's memory before parsing (app/cache.py, "remembered" responses): the cache-hit path then costs
little more than /health (docs/benchmarks.md).
"""
from flask import Blueprint, Response, current_app, jsonify, make_response, render_template

from app import jsonio, schemas, services
from app.request_body import json_body

bp = Blueprint("api", __name__)
# The demo page loads only its own script and style (no inline code), so it can forbid everything else (an injected
# script, a foreign form target) and being framed (clickjacking).
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                                           "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
                "Referrer-Policy": "same-origin"}


def ctx():
    return current_app.extensions["inference"]


def parse(schema, body: bytes):
    """Validate the raw JSON body against `schema` (pydantic parses it: bad JSON, NaN, types, limits)."""
    return schema.model_validate_json(body)


def response_key(endpoint: str) -> tuple:
    """With the body, the key of a remembered response: the endpoint and every loaded model's version."""
    return endpoint, ctx().registry.fingerprint()


def respond(key: tuple, body: bytes, head: dict, results: list[dict], batch: bool) -> Response:
    """`head` plus the results (a batch's as a list, a single item's inline) as JSON, counted in the answer
    metrics, and remembered for byte-identical repeats when every item came from the cache."""
    data = jsonio.response_body({**head, "results": results} if batch else {**head, **results[0]})
    tally = ctx().metrics.answers(key[0], head, results)
    ctx().metrics.count(tally)
    if all(r["cached"] for r in results):
        ctx().cache.put_response(key, body, data, len(results), tally)
    return json_response(data)


def respond_again(remembered: tuple[bytes, tuple]) -> Response:
    data, tally = remembered
    ctx().metrics.count(tally)
    return json_response(data)


def json_response(data: bytes) -> Response:
    return current_app.response_class(data, mimetype="application/json")


@bp.get("/")
def demo():
    """The signup-form demo; its country list is every code the loaded name models can suggest."""
    countries = sorted({c for p in ctx().registry.names.values() for codes in p.countries.values() for c in codes})
    page = make_response(render_template("index.html", countries=countries, max_name=schemas.MAX_NAME_CHARS,
                                         max_entity=schemas.MAX_ENTITY_CHARS))
    page.headers.update(PAGE_HEADERS)
    return page


@bp.post("/classify")
def classify():
    body = json_body()
    key = response_key("classify")
    if (remembered := ctx().cache.get_response(key, body)) is not None:
        return respond_again(remembered)
    req = parse(schemas.ClassifyRequest, body)
    names = req.names if req.names is not None else [req.name]
    model, version, results = services.classify(ctx(), names, req.model, req.top_k)
    return respond(key, body, {"model": model, "model_version": version}, results, req.names is not None)


@bp.post("/review-entity")
def review_entity():
    body = json_body()
    key = response_key("review-entity")
    if (remembered := ctx().cache.get_response(key, body)) is not None:
        return respond_again(remembered)
    req = parse(schemas.ReviewRequest, body)
    if req.features is not None:
        version, result = services.review_features(ctx(), req.features)
        return respond(key, body, {"model_version": version}, [result], batch=False)
    texts = req.texts if req.texts is not None else [req.text]
    version, results = services.review(ctx(), texts)
    return respond(key, body, {"model_version": version}, results, req.texts is not None)


@bp.get("/health")
def health():
    return jsonify(status="ok")


@bp.get("/ready")
def ready():
    c = ctx()
    cache = "disabled" if not c.config["CACHE_ENABLED"] else "ok" if c.cache.ping() else "unavailable"
    is_ready = c.registry.ready()
    body = {"status": "ready" if is_ready else "not_ready", "models": c.registry.versions(),
            "missing": c.registry.missing(), "cache": cache}
    return jsonify(body), 200 if is_ready else 503


@bp.get("/metrics")
def metrics():
    return Response(ctx().metrics.exposition(), mimetype="text/plain; version=0.0.4")


@bp.get("/openapi.json")
def openapi():
    from app.openapi import document
    return jsonify(document())
