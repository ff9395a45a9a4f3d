"""HTTP routes; each view: parse -> validate -> one service call -> respond."""
from flask import Blueprint, Response, current_app, jsonify, render_template, request

from app import schemas, services
from app.errors import ApiError

bp = Blueprint("api", __name__)


def ctx():
    return current_app.extensions["inference"]


def parse(schema):
    """Validate the raw JSON body against `schema` (pydantic parses it: bad JSON, NaN, types, limits)."""
    if request.mimetype != "application/json":
        raise ApiError(f"Content-Type must be application/json, got {request.mimetype or 'none'!r}",
                       "unsupported_media_type", 415)
    return schema.model_validate_json(request.get_data(cache=False) or b"")


@bp.get("/")
def demo():
    """The signup-form demo; its country list is every code the loaded name models can suggest."""
    countries = sorted({c for p in ctx().registry.names.values() for codes in p.countries.values() for c in codes})
    return render_template("index.html", countries=countries, max_name=schemas.MAX_NAME_CHARS,
                           max_entity=schemas.MAX_ENTITY_CHARS)


@bp.post("/classify")
def classify():
    req = parse(schemas.ClassifyRequest)
    names = req.names if req.names is not None else [req.name]
    model, version, results = services.classify(ctx(), names, req.model, req.top_k)
    if req.names is not None:
        return jsonify(model=model, model_version=version, results=results)
    return jsonify(model=model, model_version=version, **results[0])


@bp.post("/review-entity")
def review_entity():
    req = parse(schemas.ReviewRequest)
    if req.features is not None:
        return jsonify(services.review_features(ctx(), req.features))
    texts = req.texts if req.texts is not None else [req.text]
    version, results = services.review(ctx(), texts)
    if req.texts is not None:
        return jsonify(model_version=version, results=results)
    return jsonify(model_version=version, **results[0])


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
