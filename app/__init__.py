"""App factory: defaults -> environment -> test config; models and cache attached per process."""
import gc
import logging
import os
import time
from dataclasses import dataclass

from flask import Flask, g, request


@dataclass
class ServiceContext:
    config: dict
    registry: object
    cache: object
    metrics: object


def create_app(test_config: dict | None = None) -> Flask:
    from app import config as cfg
    settings = {**cfg.from_env(), "LOAD_MODELS": True, **(test_config or {})}
    # Before torch is imported: workers x threads must not exceed the cores (see docs/benchmarks.md).
    os.environ.setdefault("OMP_NUM_THREADS", str(settings["TORCH_THREADS"]))
    torch = cfg.torch_if_used(settings)
    if torch is not None:
        torch.set_num_threads(int(settings["TORCH_THREADS"]))

    from app import errors, views
    from app.cache import NoCache, PredictionCache, RedisTarget
    from app.jsonio import FastJSONProvider
    from app.libc import trim_heap
    from app.metrics import Metrics
    from app.registry import ModelRegistry

    if settings["LOG_FORMAT"] == "json":
        from app.log_format import json_formatter
        handler = logging.StreamHandler()
        handler.setFormatter(json_formatter())
        logging.basicConfig(level=logging.INFO, handlers=[handler])
    else:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    app = Flask(__name__)
    app.json = FastJSONProvider(app)
    app.config.update(settings)
    metrics = Metrics()
    registry = ModelRegistry(settings, metrics)
    if settings["LOAD_MODELS"]:
        registry.load()
        # Long-lived model objects never need collecting: keep full GC passes from rescanning them on
        # the request path (unfrozen: ~0.3 s each, about one per 1,000 requests; docs/benchmarks.md).
        gc.collect()
        gc.freeze()
        trim_heap()  # hand back what loading freed (app/libc.py)
    target = RedisTarget(settings["REDIS_URL"], settings["REDIS_SOCKET_TIMEOUT"],
                         tuple(cfg.sentinel_addresses(settings["REDIS_SENTINELS"])), settings["REDIS_SENTINEL_MASTER"],
                         settings["REDIS_SENTINEL_PASSWORD"])
    cache = PredictionCache(target, settings["CACHE_TTL_SECONDS"], settings["CACHE_RETRY_AFTER_SECONDS"], metrics,
                            settings["LOCAL_CACHE_ITEMS"], settings["REMEMBER_RESPONSES"],
                            settings["CACHE_KEY_SECRET"]) \
        if settings["CACHE_ENABLED"] else NoCache()
    app.extensions["inference"] = ServiceContext(settings, registry, cache, metrics)
    errors.init_app(app)
    if settings["COMPRESS_RESPONSES"]:
        compress_responses(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(api_docs())
    _instrument(app, metrics, cfg.comma_list(settings["CORS_ORIGINS"]), settings["INSTANCE_NAME"])
    return app


# A 1,000-name answer (top 3) is 341 KB of repetitive JSON: 22 KB in zstd at 0.6 ms, 24 KB in br (quality 1) at
# 0.6 ms, 27 KB in gzip (level 1) at 1.5 ms, against ~0.4 s of model work; a single name's ~0.4 KB is sent as it is.
COMPRESS_MIN_BYTES = 1024
COMPRESSION = {"COMPRESS_ALGORITHM": ["zstd", "br", "gzip"], "COMPRESS_MIN_SIZE": COMPRESS_MIN_BYTES,
               "COMPRESS_LEVEL": 1, "COMPRESS_BR_LEVEL": 1, "COMPRESS_ZSTD_LEVEL": 3, "COMPRESS_REGISTER": False,
               "COMPRESS_MIMETYPES": ["application/json", "text/css", "text/javascript", "application/javascript",
                                      "text/html", "text/plain"]}  # the demo page; /metrics (Prometheus asks for gzip)


def compress_responses(app: Flask):
    """Answers in the best coding a client accepts (Accept-Encoding), as nginx in deploy/ does with gzip: with
    gunicorn alone (the Kubernetes manifest) nothing else would. An answer too small to compress skips
    flask-compress altogether (it would cost every request 8-16 µs in-process, about what a cache hit spends
    in our own code) and carries no Vary: it is the same for every Accept-Encoding."""
    from flask_compress import Compress
    app.config.update(COMPRESSION)
    compress = Compress(app)

    @app.after_request
    def _compress(response):
        size = response.content_length
        if size is not None and size < COMPRESS_MIN_BYTES:
            return response
        return compress.after_request(response)


# No page of ours may be framed (clickjacking). Swagger UI runs inline scripts, so /docs/ gets that rule alone
# (the demo page's fuller policy: app/views.py).
DOCS_HEADERS = {"Content-Security-Policy": "frame-ancestors 'none'"}


def api_docs():
    """Swagger UI at /docs/ over /openapi.json, from the files its package ships (no CDN: works offline)."""
    from flask_swagger_ui import get_swaggerui_blueprint
    docs = get_swaggerui_blueprint("/docs", "/openapi.json", config={
        "app_name": "Name origin & medical entity review API", "tryItOutEnabled": True})

    @docs.after_request
    def _not_framed(response):
        response.headers.update(DOCS_HEADERS)
        return response
    return docs


# What a browser on another origin may send and read: its own request id, and the id, instance and
# Retry-After (503 overloaded) of an answer; without these, fetch() refuses the first and hides the others.
CORS_REQUEST_HEADERS = "Content-Type, X-Request-ID"
CORS_RESPONSE_HEADERS = "X-Request-ID, X-Instance, Retry-After"


def _instrument(app: Flask, metrics, cors_origins: list[str], instance: str):
    from app.request_ids import with_request_ids
    app.wsgi_app = with_request_ids(app.wsgi_app)

    @app.before_request
    def _start():
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response):
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"  # bounded label set
        metrics.observe_request(endpoint, request.method, str(response.status_code),
                                time.perf_counter() - g.get("started", time.perf_counter()))
        response.headers["X-Instance"] = instance  # which instance answered, behind a load balancer
        response.headers["X-Content-Type-Options"] = "nosniff"  # a browser never reads an answer as another type
        origin = request.headers.get("Origin")
        if origin and ("*" in cors_origins or origin in cors_origins):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Headers"] = CORS_REQUEST_HEADERS
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response.headers["Access-Control-Expose-Headers"] = CORS_RESPONSE_HEADERS
            if request.method == "OPTIONS":  # a preflight: the browser may skip the next ones for 10 min
                response.headers["Access-Control-Max-Age"] = "600"
            response.vary.add("Origin")
        return response
