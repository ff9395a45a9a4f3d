"""One function per endpoint: cache lookup -> batched inference for the misses -> cache fill."""
import unicodedata

from app.cache import cache_key
from app.errors import ApiError, NotReady
from models.char_features import EncoderError
from models.name_scripts import is_supported
from models.name_text import normalise


def _cached_batch(ctx, endpoint: str, model: str, version: str, keys_in: list[str], compute):
    """[(value, cached)] for each normalised input: one MGET, one forward over unique misses, one write."""
    keys = [cache_key(endpoint, model, version, k) for k in keys_in]
    found = ctx.cache.get_many(keys)
    todo = list(dict.fromkeys(k for k, v in zip(keys_in, found) if v is None))
    fresh = dict(zip(todo, compute(todo))) if todo else {}
    key_of = dict(zip(keys_in, keys))
    ctx.cache.set_many({key_of[k]: v for k, v in fresh.items()})
    return [(v, True) if v is not None else (fresh[k], False) for k, v in zip(keys_in, found)]


def classify(ctx, names: list[str], model: str | None, top_k: int):
    """(model, version, [(name, cached, predictions, low_confidence)]) in input order."""
    model = model or ctx.config["DEFAULT_NAME_MODEL"]
    predictor = ctx.registry.names.get(model)
    if predictor is None:
        raise ApiError(f"model {model!r} is not loaded; loaded: {sorted(ctx.registry.names)}", "unknown_model")

    def compute(normalised):
        probs = ctx.registry.infer(f"names-{model}", normalised)
        out = []
        for row in (r.tolist() for r in probs):  # full ranking cached, so any top_k is served from one entry
            ranked = sorted(range(len(row)), key=row.__getitem__, reverse=True)
            out.append([[predictor.labels[i], round(row[i], 6)] for i in ranked])
        return out

    # No letters, or only scripts none of our languages use: an honest empty answer, no model call.
    supported = [is_supported(n) for n in names]
    keys_in = [normalise(n) for n, ok in zip(names, supported) if ok]
    rows = iter(_cached_batch(ctx, "classify", model, predictor.version, keys_in, compute))
    threshold = ctx.config["LOW_CONFIDENCE_THRESHOLD"]
    results = []
    for name, ok in zip(names, supported):
        if not ok:
            results.append({"name": name, "cached": False, "predictions": [], "low_confidence": True,
                            "unsupported_script": True})
            continue
        ranking, cached = next(rows)
        preds = [{"language": lang, "countries": predictor.countries[lang], "probability": round(p, 4)}
                 for lang, p in ranking[:top_k]]
        results.append({"name": name, "cached": cached, "predictions": preds,
                        "low_confidence": ranking[0][1] < threshold, "unsupported_script": False})
    return model, predictor.version, results


def _reviewer(ctx):
    if ctx.registry.entity is None:
        raise NotReady("entity review is not enabled on this instance", "entity_review_disabled")
    return ctx.registry.entity


def review(ctx, texts: list[str]):
    """(version, [(text, cached, valid, score)]) in input order."""
    reviewer = _reviewer(ctx)

    def compute(normalised):
        reviewer.encoder.check(normalised)  # before batching: one bad text must not fail other requests' batch
        scores = ctx.registry.infer("entity-review", normalised)
        return [round(s, 6) for s in scores]

    keys_in = [unicodedata.normalize("NFC", t.strip()) for t in texts]
    try:
        rows = _cached_batch(ctx, "review-entity", "entity", reviewer.version, keys_in, compute)
    except EncoderError as e:  # the schema's limits should make this unreachable; never a 500 if not
        raise ApiError(str(e), "invalid_text") from None
    return reviewer.version, [{"text": t, "valid": s >= reviewer.threshold, "score": round(s, 4), "cached": c}
                              for t, (s, c) in zip(texts, rows)]


def review_features(ctx, features):
    reviewer = _reviewer(ctx)
    try:
        score = ctx.registry.timed("entity-review", 1, reviewer.score_features, features)
    except ValueError as e:
        raise ApiError(str(e), "invalid_features") from None
    return {"valid": score >= reviewer.threshold, "score": round(score, 4), "model_version": reviewer.version,
            "cached": False}
