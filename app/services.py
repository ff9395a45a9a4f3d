"""One function per endpoint: cache lookup -> batched inference for the misses -> cache fill."""
from app.errors import ApiError, NotReady
from models.char_features import EncoderError
from models.name_scripts import is_supported, low_confidence, other_language_evidence
from models.name_text import normalise


def _cached_batch(ctx, endpoint: str, model: str, version: str, keys_in: list[str], compute, valid):
    """[(value, cached)] for each normalised input: one MGET, one forward over unique misses, one write.
    `valid(value)`: whether a cached value has the shape `compute` gives (else it is computed afresh)."""
    keys = [ctx.cache.key(endpoint, model, version, k) for k in keys_in]
    found = ctx.cache.get_many(keys, valid)
    todo = list(dict.fromkeys(k for k, v in zip(keys_in, found) if v is None))
    fresh = dict(zip(todo, compute(todo))) if todo else {}
    key_of = dict(zip(keys_in, keys))
    ctx.cache.set_many({key_of[k]: v for k, v in fresh.items()})
    return [(v, True) if v is not None else (fresh[k], False) for k, v in zip(keys_in, found)]


def classify(ctx, names: list[str], model: str | None, top_k: int):
    """(model, version, [(name, cached, predictions, low_confidence, unsupported_script, other_language_evidence)])
    in input order."""
    model = model or ctx.config["DEFAULT_NAME_MODEL"]
    predictor = ctx.registry.names.get(model)
    if predictor is None:
        raise ApiError(f"model {model!r} is not loaded; loaded: {sorted(ctx.registry.names)}", "unknown_model")
    # Admitted or shed right after parsing, as entity batches (app/admission.py).
    with ctx.registry.gate.admit(ctx.registry.cost(f"names-{model}", names)):
        return _classify(ctx, predictor, names, model, top_k)


def _classify(ctx, predictor, names: list[str], model: str, top_k: int):
    def compute(normalised):
        probs = ctx.registry.infer(f"names-{model}", normalised)
        out = []
        for row in (r.tolist() for r in probs):  # full ranking cached, so any top_k is served from one entry
            ranked = sorted(range(len(row)), key=row.__getitem__, reverse=True)
            out.append([[predictor.labels[i], round(row[i], 6)] for i in ranked])
        return out

    def valid(ranking) -> bool:  # compute's shape: [[language, probability], ...], every language once
        return (isinstance(ranking, list) and len(ranking) == len(predictor.labels)
                and all(isinstance(p, list) and len(p) == 2 and isinstance(p[1], float) for p in ranking)
                and {p[0] for p in ranking} == predictor.countries.keys())

    # No letters, or only scripts none of our languages use: an honest empty answer, no model call.
    normalised = [normalise(n) for n in names]
    supported = [is_supported(n) for n in normalised]
    keys_in = [n for n, ok in zip(normalised, supported) if ok]
    ctx.metrics.without_model["unsupported_script"].inc(len(names) - len(keys_in))
    rows = iter(_cached_batch(ctx, "classify", model, predictor.cache_version, keys_in, compute, valid))
    threshold = ctx.config["LOW_CONFIDENCE_THRESHOLD"]
    results = []
    for name, ok in zip(names, supported):
        if not ok:
            results.append({"name": name, "cached": False, "predictions": [], "low_confidence": True,
                            "unsupported_script": True, "other_language_evidence": []})
            continue
        ranking, cached = next(rows)
        preds = [{"language": lang, "countries": predictor.countries[lang], "probability": round(p, 4)}
                 for lang, p in ranking[:top_k]]
        evidence = other_language_evidence(name)
        results.append({"name": name, "cached": cached, "predictions": preds,
                        "low_confidence": low_confidence(ranking[0][1], evidence, threshold),
                        "unsupported_script": False, "other_language_evidence": evidence})
    return model, predictor.version, results


def _reviewer(ctx):
    if ctx.registry.entity is None:
        raise NotReady("entity review is not enabled on this instance", "entity_review_disabled")
    return ctx.registry.entity


def review(ctx, texts: list[str]):
    """(version, [(text, cached, valid, score, unknown_characters)]) in input order."""
    reviewer = _reviewer(ctx)
    # Admitted or shed right after parsing: a large batch this worker has no room for costs only its parse.
    with ctx.registry.gate.admit(ctx.registry.cost("entity-review", texts)):
        return _review(ctx, reviewer, texts)


def _review(ctx, reviewer, texts: list[str]):
    encoder = reviewer.encoder
    read = [encoder.readable(t) for t in texts]
    keys_in = [k for k, _ in read]
    try:
        encoder.check(keys_in)  # before batching: one bad text must not fail other requests' batch
    except EncoderError as e:  # the schema's limits catch all but compatibility forms that lengthen a text (㎎ -> mg)
        raise ApiError(f"{e} (as the encoder reads it)", "invalid_text") from None
    unread = [encoder.unread_reason(k, unknown) for k, unknown in read]  # "not valid" without the model
    for reason in set(unread) - {None}:
        ctx.metrics.without_model[reason].inc(unread.count(reason))
    readable = [reason is None for reason in unread]

    def compute(normalised):
        return [round(s, 6) for s in ctx.registry.infer("entity-review", normalised)]

    def valid(score) -> bool:
        return isinstance(score, float) and 0.0 <= score <= 1.0

    # The key names how the features were computed too: an int8 and an fp32 encoder score a text differently.
    rows = iter(_cached_batch(ctx, "review-entity", f"entity/{encoder.variant}", reviewer.cache_version,
                              [k for k, ok in zip(keys_in, readable) if ok], compute, valid))
    results = []
    for text, (_, unknown), ok in zip(texts, read, readable):
        score, cached = next(rows) if ok else (0.0, False)
        results.append({"text": text, "valid": ok and score >= reviewer.threshold, "score": round(score, 4),
                        "cached": cached, "unknown_characters": unknown})
    return reviewer.version, results


def review_features(ctx, features):
    """(version, {valid, score, cached}) for one text's precomputed features."""
    reviewer = _reviewer(ctx)
    try:
        score = ctx.registry.timed("entity-review", 1, reviewer.score_features, features)
    except ValueError as e:
        raise ApiError(str(e), "invalid_features") from None
    return reviewer.version, {"valid": score >= reviewer.threshold, "score": round(score, 4), "cached": False}
