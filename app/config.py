"""Service configuration: defaults, overridden once from the environment (see README table)."""
import os
import socket
from pathlib import Path

from models.paths import ONNX_CACHE

ROOT = Path(__file__).resolve().parent.parent

DEFAULTS = {
    "NAME_CHECKPOINTS_DIR": str(ROOT / "checkpoints"),   # holds names-<arch>/ folders
    "NAME_MODELS": "gru,lstm,rnn",                        # every one must load for /ready
    "DEFAULT_NAME_MODEL": "gru",
    "ENTITY_ENCODER_DIR": str(ROOT / "checkpoints" / "entity-encoder"),
    "ENTITY_RNN_DIR": str(ROOT / "checkpoints" / "entity-rnn"),
    "ENTITY_REVIEW": True,                                # load and serve /review-entity
    "ENTITY_ENCODER_INT8": True,                          # int8 encoder (ONNX Runtime: static quantisation; torch: dynamic)
    "ENTITY_ENCODER_RUNTIME": "onnx",                     # "onnx": cached ONNX export (no transformers import); "torch"
    "ONNX_CACHE_DIR": str(ONNX_CACHE),                    # where encoder exports are kept (models/encoder_onnx.py)
    "REDIS_URL": "redis://127.0.0.1:6380/0",
    "CACHE_ENABLED": True,
    "CACHE_TTL_SECONDS": 86400,
    "CACHE_KEY_SECRET": "",                               # set: Redis keys are HMACs of the inputs, not plain hashes
    "REDIS_SOCKET_TIMEOUT": 0.05,                         # seconds; a slow Redis is treated as down
    "CACHE_RETRY_AFTER_SECONDS": 5.0,                     # circuit breaker: skip Redis this long after an error
    "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,                # bytes; larger bodies get 413
    "LOW_CONFIDENCE_THRESHOLD": 0.5,
    "CORS_ORIGINS": "",                                   # comma-separated origins allowed to call the API
    "THREADS": 4,                                         # gunicorn threads per worker (deploy/gunicorn.conf.py reads it here)
    "REQUEST_READ_TIMEOUT": 5.0,                          # seconds a client may send nothing in the middle of a request (gthread); 0 = no limit
    "CLIENT_BUFFER_BYTES": 64 << 20,                      # per worker and direction: requests still arriving, answers slow readers have not taken (gthread)
    "HEAVY_ENTITY_CHARS": 1024,                           # an entity request of this many characters or more is heavy (~0.1 s); 0 = never
    "HEAVY_NAME_CHARS": 16384,                            # a /classify request of this many characters or more is heavy (~0.2 s); 0 = never
    "HEAVY_REQUESTS": 0,                                  # heavy calls a worker admits at once, running one at a time; 0 = THREADS - 1
    "TORCH_THREADS": 1,                                   # intra-op threads per worker, ONNX Runtime's and (if loaded) torch's
    "NAME_RUNTIME": "onnx",                               # "onnx": every name batch in ONNX Runtime, no torch import; "torch"
    "ONNX_MAX_BATCH": 8,                                  # NAME_RUNTIME=torch: batches up to this many parts in ONNX Runtime; 0 = torch only
    "CROSS_REQUEST_BATCHING": False,                      # concurrent misses in a worker share one forward pass (no gain measured on 2 cores)
    "MAX_BATCH_ITEMS": 1024,                              # largest such shared batch (items)
    "MALLOC_TRIM_AFTER_ITEMS": 64,                        # malloc_trim after a forward pass of this many items; 0 = never
    "LOCAL_CACHE_ITEMS": 2048,                            # per-worker in-memory tier in front of Redis; 0 = off
    "REMEMBER_RESPONSES": True,                           # repeats of small fully cached requests answered whole from that tier
    "INSTANCE_NAME": socket.gethostname(),                # sent as X-Instance on every response
}


def coerce(default, raw: str):
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    return type(default)(raw)


def uses_torch(settings: dict) -> bool:
    """Whether a configured runtime needs torch; by default none does (the gunicorn master and workers skip it)."""
    return "torch" in (settings["NAME_RUNTIME"], settings["ENTITY_ENCODER_RUNTIME"])


def torch_if_used(settings: dict):
    """torch when a configured runtime needs it, else None; a clear error where it is not installed (the
    Docker image installs requirements-serve.txt, which has no torch)."""
    if not uses_torch(settings):
        return None
    try:
        import torch
    except ImportError as e:
        raise RuntimeError(f"NAME_RUNTIME={settings['NAME_RUNTIME']} "
                           f"ENTITY_ENCODER_RUNTIME={settings['ENTITY_ENCODER_RUNTIME']}: the torch runtimes need "
                           f"torch, which this install lacks ({e}); use the default onnx runtimes, or install "
                           f"requirements.txt") from e
    return torch


def heavy_admitted(settings: dict) -> int:
    """Heavy calls a worker admits at once: by default all but one of its threads, kept for probes and light requests."""
    return settings["HEAVY_REQUESTS"] or max(1, settings["THREADS"] - 1)


def from_env(environ=os.environ) -> dict:
    """DEFAULTS with any variable of the same name from the environment, typed like its default."""
    return {k: coerce(v, environ[k]) if k in environ else v for k, v in DEFAULTS.items()}
