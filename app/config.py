"""Service configuration: defaults, overridden once from the environment (see README table)."""
import os
import socket
import sys
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from redis.connection import parse_url

from models.paths import ONNX_CACHE

ROOT = Path(__file__).resolve().parent.parent

NAME_MODEL_ARCHS = ("rnn", "lstm", "gru")  # the name models there are; /classify's "model" names one (app/schemas.py)
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
NonNegative = Annotated[int, Field(ge=0)]
Positive = Annotated[int, Field(ge=1)]


def comma_list(text: str) -> list[str]:
    """The items of a comma-separated setting (NAME_MODELS, CORS_ORIGINS), spaces and empty items dropped."""
    return [item.strip() for item in text.split(",") if item.strip()]


def sentinel_addresses(text: str) -> list[tuple[str, int]]:
    """(host, port) of each comma-separated `host:port` of REDIS_SENTINELS (`[::1]:26379` for IPv6)."""
    addresses = []
    for item in comma_list(text):
        host, _, port = item.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f"{item!r} is not host:port (port 1-65535)")
        addresses.append((host, int(port)))
    return addresses


class Settings(BaseModel):
    """Every setting (README, "Configuration"), typed and bounded: a wrong value stops the start with a message
    naming it, rather than a typo quietly turning a feature off (ENTITY_REVIEW=ture) or a worker answering 500s
    (REDIS_URL=host:port)."""
    model_config = ConfigDict(extra="forbid", frozen=True)

    # gunicorn (deploy/gunicorn.conf.py)
    BIND: str = Field("127.0.0.1:8000", min_length=1)
    WORKERS: Positive = 2
    WORKER_CLASS: str = Field("gthread", min_length=1)
    WORKER_TIMEOUT: Positive = 30                          # seconds; < a typical 60 s probe timeout
    GRACEFUL_TIMEOUT: NonNegative = 20                     # seconds in-flight requests get on stop or HUP
    ACCESS_LOG: str = ""                                  # a path, "-" for the gunicorn log, empty = off
    LOG_LEVEL: Literal[LOG_LEVELS] = "info"
    LOG_FORMAT: Literal["text", "json"] = "text"           # json: one JSON object a line (app/log_format.py)
    RUN_DIR: str = ""                                     # empty: the system's temporary folder (metrics files)
    MALLOC_MMAP_THRESHOLD: int = Field(1 << 20, ge=0, le=32 << 20)  # glibc's largest; 0 = its dynamic threshold
    MALLOC_ARENAS: NonNegative = 0                         # 0 = glibc's default
    # models
    NAME_CHECKPOINTS_DIR: str = str(ROOT / "checkpoints")  # holds names-<arch>/ folders
    NAME_MODELS: str = "gru,lstm,rnn"                     # every one must load for /ready
    DEFAULT_NAME_MODEL: Literal[NAME_MODEL_ARCHS] = "gru"
    ENTITY_ENCODER_DIR: str = str(ROOT / "checkpoints" / "entity-encoder")
    ENTITY_RNN_DIR: str = str(ROOT / "checkpoints" / "entity-rnn")
    ENTITY_REVIEW: bool = True                            # load and serve /review-entity
    ENTITY_ENCODER_INT8: bool = True                      # ONNX Runtime: static int8; torch: dynamic
    ENTITY_ENCODER_RUNTIME: Literal["onnx", "torch"] = "onnx"  # "onnx": the cached ONNX export
    ONNX_CACHE_DIR: str = str(ONNX_CACHE)                 # encoder exports (models/encoder_onnx.py)
    NAME_RUNTIME: Literal["onnx", "torch"] = "onnx"       # "onnx": no torch import
    ONNX_MAX_BATCH: NonNegative = 8                        # NAME_RUNTIME=torch: batches this small in ONNX Runtime
    TORCH_THREADS: Positive = 1                            # intra-op threads per worker (ONNX Runtime, torch)
    # cache
    REDIS_URL: str = "redis://127.0.0.1:6380/0"
    REDIS_SENTINELS: str = ""                             # host:port,...: the primary is found through Sentinel
    REDIS_SENTINEL_MASTER: str = Field("mymaster", min_length=1)  # the name the Sentinels monitor it by
    REDIS_SENTINEL_PASSWORD: str = ""                     # the Sentinels' own (requirepass in sentinel.conf)
    CACHE_ENABLED: bool = True
    CACHE_TTL_SECONDS: Positive = 86400                    # Redis refuses an expiry of 0 or less
    CACHE_KEY_SECRET: str = ""                            # set: Redis keys are HMACs, not plain hashes
    REDIS_SOCKET_TIMEOUT: float = Field(0.05, gt=0, allow_inf_nan=False)  # seconds; a slower Redis is down
    CACHE_RETRY_AFTER_SECONDS: float = Field(5.0, ge=0, allow_inf_nan=False)  # skip Redis this long after an error
    LOCAL_CACHE_ITEMS: NonNegative = 2048                  # per-worker tier in front of Redis; 0 = off
    REMEMBER_RESPONSES: bool = True                       # small fully cached repeats answered from that tier
    # requests
    MAX_CONTENT_LENGTH: Positive = 2 * 1024 * 1024         # bytes; larger bodies get 413
    COMPRESS_RESPONSES: bool = True                       # answers of 1 KB or more in zstd, br or gzip
    LOW_CONFIDENCE_THRESHOLD: float = Field(0.5, ge=0, le=1)
    CORS_ORIGINS: str = ""                                # comma-separated origins allowed to call the API
    THREADS: Positive = 4                                  # gunicorn threads per worker
    REQUEST_READ_TIMEOUT: float = Field(5.0, ge=0, allow_inf_nan=False)  # a request may stall this long (s)
    CLIENT_BUFFER_BYTES: NonNegative = 64 << 20            # per worker and direction, held for slow clients
    HEAVY_ENTITY_CHARS: NonNegative = 1024                 # an entity request this long is heavy (~0.1 s); 0 = never
    HEAVY_NAME_CHARS: NonNegative = 16384                  # a /classify request this long is heavy (~0.2 s); 0 = never
    HEAVY_REQUESTS: NonNegative = 0                        # heavy calls a worker admits at once; 0 = THREADS - 1
    CROSS_REQUEST_BATCHING: bool = False                  # concurrent misses share a forward pass (no gain here)
    MAX_BATCH_ITEMS: Positive = 1024                       # largest such shared batch (items)
    MALLOC_TRIM_AFTER_ITEMS: NonNegative = 64              # malloc_trim after a forward pass this large; 0 = never
    INSTANCE_NAME: str = Field(default_factory=socket.gethostname)  # sent as X-Instance on every response

    @field_validator("LOG_LEVEL", "LOG_FORMAT", mode="before")
    @classmethod
    def _lower(cls, v):
        return v.lower() if isinstance(v, str) else v

    @field_validator("NAME_MODELS")
    @classmethod
    def _known_models(cls, v: str) -> str:
        archs = comma_list(v)
        if not archs or any(a not in NAME_MODEL_ARCHS for a in archs):
            raise ValueError(f"must list one or more of {', '.join(NAME_MODEL_ARCHS)}, comma-separated")
        return ",".join(archs)

    @field_validator("CORS_ORIGINS")
    @classmethod
    def _origins(cls, v: str) -> str:
        # A browser's Origin header is scheme://host[:port] and nothing more: 'https://forms.example/' (a trailing
        # slash, a path) never equals it, so such an entry had silently allowed no one.
        for origin in comma_list(v):
            parts = urlsplit(origin)
            if origin != "*" and not (parts.scheme in ("http", "https") and parts.netloc and not parts.path
                                      and not parts.query and not parts.fragment):
                raise ValueError(f"{origin!r} is not an origin: scheme://host[:port] with no path, or *")
        return v

    @field_validator("REDIS_URL")
    @classmethod
    def _redis_url(cls, v: str) -> str:
        parse_url(v)  # raises ValueError naming the schemes it takes (redis://, rediss://, unix://)
        return v

    @field_validator("REDIS_SENTINELS")
    @classmethod
    def _sentinels(cls, v: str) -> str:
        sentinel_addresses(v)
        return v

    @model_validator(mode="after")
    def _default_is_served(self):
        if self.DEFAULT_NAME_MODEL not in comma_list(self.NAME_MODELS):
            raise ValueError(f"DEFAULT_NAME_MODEL {self.DEFAULT_NAME_MODEL!r} is not among NAME_MODELS "
                             f"({self.NAME_MODELS})")
        return self

    @model_validator(mode="after")
    def _sentinels_reach_over_tcp(self):
        if self.REDIS_SENTINELS and self.REDIS_URL.startswith("unix:"):
            raise ValueError("REDIS_SENTINELS is set, so REDIS_URL gives only the database, credentials and TLS "
                             "of the primary they name: use redis:// or rediss://, not unix://")
        return self


class ConfigError(ValueError):
    """Settings the service cannot start with; the message names each wrong variable and what it takes."""


DEFAULTS = Settings().model_dump()


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
    """The settings, each from the environment variable of its name where one is set, else its default. For a
    number or a switch, an empty value counts as unset, and a switch takes true/false, yes/no, on/off or 1/0.
    Raises ConfigError naming every wrong variable."""
    raw = {}
    for name, field in Settings.model_fields.items():
        value = environ.get(name)
        if value is None:
            continue
        if field.annotation is not str:
            value = value.strip()
            if not value:
                continue
        raw[name] = value
    try:
        return Settings(**raw).model_dump()
    except ValidationError as e:
        problems = []
        for err in e.errors():
            name = ".".join(map(str, err["loc"]))
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "bool_parsing":
                message += " (true/false, yes/no, on/off, 1/0)"
            problems.append(f"{name}={err['input']!r}: {message}" if name else message)
        raise ConfigError("; ".join(problems)) from None


def main() -> int:
    """`python -m app.config`: check the environment's settings before starting (make serve does), and show them."""
    try:
        settings = from_env()
    except ConfigError as e:
        print(f"configuration error: {e}", file=sys.stderr)
        return 1
    for name, value in settings.items():
        print(f"{name}={shown(name, value)}")
    return 0


def shown(name: str, value) -> str:
    """A setting as it may be printed: the cache key secret, the Sentinels' password and REDIS_URL's password masked."""
    if name in ("CACHE_KEY_SECRET", "REDIS_SENTINEL_PASSWORD") and value:
        return "(set)"
    if name == "REDIS_URL":
        parts = urlsplit(value)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
            return urlunsplit(parts._replace(netloc=netloc))
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
