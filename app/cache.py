"""Redis prediction cache that never makes a request fail, with a small in-process tier in front.

Keys hash (endpoint, model, version, normalised input), the version naming everything that decides the
cached value (models.checkpoint.cache_version: weights, manifest and the code that serves them), so a new
checkpoint or rule can never serve a stale answer, and a cached value never changes: that is what makes the per-worker LRU
tier safe (no invalidation needed) and lets the hottest names skip the Redis round trip; a
byte-identical repeat of a small, fully cached request gets its whole response from a second
local tier.
Batches use one MGET and one pipelined write. A RedisError (down, slow past the socket
timeout) opens a circuit breaker: Redis is skipped for CACHE_RETRY_AFTER_SECONDS, then tried
again, so caching resumes by itself. A write that Redis refuses (OOM under noeviction, READONLY)
pauses only the writes for that long: its reads still answer.
The client is created lazily in the process that uses it (after gunicorn forks). After a failover the
address that was the primary may answer as a read-only replica: see `RedisTarget` for how the client moves on.
"""
import hashlib
import hmac
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import redis
from redis.connection import parse_url
from redis.sentinel import MasterNotFoundError, Sentinel

from app import jsonio

log = logging.getLogger(__name__)


def cache_key(endpoint: str, model: str, version: str, normalised_input: str, secret: bytes = b"") -> str:
    """The Redis key of one input's answer. With a secret, an HMAC: names are personal data and few enough that a
    plain hash in Redis can be reversed by hashing a list of names; without the secret it cannot."""
    # Only the last field comes from users and the others never hold NUL, so the join is unambiguous
    # (and a third of the cost of JSON-encoding the tuple on the hit path).
    raw = f"{endpoint}\0{model}\0{version}\0{normalised_input}".encode("utf-8", "surrogatepass")
    digest = hmac.new(secret, raw, hashlib.sha256) if secret else hashlib.sha256(raw)
    return "pred:" + digest.hexdigest()


@dataclass(frozen=True)
class RedisTarget:
    """Where the cache is: the server at `url`, or the primary that `sentinels` name `master` (README, REDIS_*)."""
    url: str
    timeout: float  # on every socket operation, with no retries: a slow Redis is a down one
    sentinels: tuple[tuple[str, int], ...] = ()
    master: str = "mymaster"
    sentinel_password: str = ""

    def connect(self) -> redis.Redis:
        """Without sentinels, a client of the server at `url`. With them, of the primary: each new connection asks
        them where it is, and a connection the old primary answers READONLY (demoted to a replica by a failover) is
        dropped so the next one asks again; `url` then gives only the database, credentials and TLS (rediss://)."""
        options = {"socket_timeout": self.timeout, "socket_connect_timeout": self.timeout, "retry": None,
                   "health_check_interval": 0}
        if not self.sentinels:
            return redis.Redis.from_url(self.url, **options)
        primary = parse_url(self.url)
        tls = primary.pop("connection_class", None) is redis.SSLConnection
        for address in ("host", "port"):
            primary.pop(address, None)
        # The Sentinels' own clients would otherwise retry 3 times with back-off: seconds a request while one is down.
        asking = {**options, "password": self.sentinel_password or None}
        return Sentinel(self.sentinels, sentinel_kwargs=asking).master_for(self.master, ssl=tls, **primary, **options)

    def why(self, e: Exception) -> str:
        """A failure in one short line: redis-py's MasterNotFoundError holds ~1 KB of client repr per Sentinel, then
        what failed with it (' - auth:AuthenticationError'), which is kept: a wrong REDIS_SENTINEL_PASSWORD shows."""
        if isinstance(e, MasterNotFoundError):
            where = ", ".join(f"{host}:{port}" for host, port in self.sentinels)
            errors = ", ".join(dict.fromkeys(re.findall(r" - (\w+:\w+)", str(e))))
            return f"no Sentinel at {where} names a live primary {self.master!r}" + (f" ({errors})" if errors else "")
        return str(e)


class LocalTier:
    """A bounded, thread-safe LRU of decoded values (gthread workers share it between threads)."""

    def __init__(self, size: int):
        self.size, self._items, self._lock = size, OrderedDict(), threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def clear(self):
        with self._lock:
            self._items.clear()

    def put(self, key, value):
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            if len(self._items) > self.size:
                self._items.popitem(last=False)


class PredictionCache:
    # Whole responses are remembered only for bodies and answers up to these sizes: single names and small
    # batches, so the tier holds at most local_items x 4.5 KB (~9 MB) per worker. Bounding the body alone had let
    # 40 names with all 18 languages each (a 452-byte body, a 63 KB answer) take 2,048 entries to ~128 MB.
    MAX_REMEMBERED_BODY = 512
    MAX_REMEMBERED_RESPONSE = 4096

    def __init__(self, target: RedisTarget, ttl: int, retry_after: float, metrics=None, local_items: int = 0,
                 remember_responses: bool = False, key_secret: str = ""):
        self.target, self.ttl, self.retry_after = target, ttl, retry_after
        self.key_secret = key_secret.encode()
        self.metrics = metrics
        self.local = LocalTier(local_items) if local_items > 0 else None
        self.responses = LocalTier(local_items) if local_items > 0 and remember_responses else None
        self._client, self._pid, self._open_until, self._writes_open_until = None, None, 0.0, 0.0

    def key(self, endpoint: str, model: str, version: str, normalised_input: str) -> str:
        return cache_key(endpoint, model, version, normalised_input, self.key_secret)

    def clear_local(self):
        for tier in (self.local, self.responses):
            if tier:
                tier.clear()

    def get_response(self, key: tuple, body: bytes) -> tuple[bytes, tuple] | None:
        """The response body already sent for this exact request body, if every item in it was a cache hit, and
        the tally of what it answers (app/metrics.py). Serving it skips parsing, validation, key hashing and JSON
        encoding, and gives the same bytes the full path would: cached values never change and a worker's model
        versions are fixed for its life."""
        if not self.responses or len(body) > self.MAX_REMEMBERED_BODY:
            return None
        found = self.responses.get((*key, body))
        if found is None:
            return None
        data, items, tally = found
        self._count("local_hit", items)  # the items were served from this worker's memory, as before
        return data, tally

    def put_response(self, key: tuple, body: bytes, data: bytes, items: int, tally: tuple = ()):
        """Remember a response whose every item was a cache hit; `key` holds the endpoint and model versions."""
        if self.responses and len(body) <= self.MAX_REMEMBERED_BODY and len(data) <= self.MAX_REMEMBERED_RESPONSE:
            self.responses.put((*key, body), (data, items, tally))

    def client(self) -> redis.Redis:
        if self._client is None or self._pid != os.getpid():  # never share a connection across fork
            self._client = self.target.connect()
            self._pid = os.getpid()
        return self._client

    def available(self) -> bool:
        return time.monotonic() >= self._open_until

    def _failed(self, op: str, e: Exception):
        if op == "set" and isinstance(e, redis.ResponseError):
            # Redis answered and refused the writes (OOM: full under noeviction; READONLY): its reads still answer.
            # Pausing them too had made a full Redis a cache of nothing: every retry a write failed and reopened it.
            self._writes_open_until = time.monotonic() + self.retry_after
            log.warning("redis refused a write (%s); not writing for %.1fs", self.target.why(e), self.retry_after)
            event = "refused"
        else:
            self._open_until = time.monotonic() + self.retry_after
            log.warning("redis %s failed (%s); serving uncached for %.1fs", op, self.target.why(e), self.retry_after)
            event = "error"
        if isinstance(e, redis.ReadOnlyError):
            # A replica now where the primary was: a managed Redis's failover moves the primary's DNS name to
            # another host, which a fresh connection finds; the pooled ones would keep reaching this one.
            self._client.connection_pool.disconnect()
        if self.metrics:
            self.metrics.cache_event[event].inc()

    def get_many(self, keys: list[str], valid=None) -> list[dict | None]:
        """Cached values in key order: the local tier first, then one MGET for the rest.
        None for a miss, or for a key not held locally while Redis is unavailable. A value from Redis that does
        not decode, or that `valid(value)` refuses, is a miss too (counted `invalid`), so the caller computes and
        overwrites it: an entry another release wrote in another shape, or one garbled outside the service,
        had been a 500 for every request that read it until it expired."""
        values = [self.local.get(k) for k in keys] if self.local else [None] * len(keys)
        todo = [i for i, v in enumerate(values) if v is None]
        self._count("local_hit", len(keys) - len(todo))
        if not todo:
            return values
        if not self.available():
            self._count("skipped", len(todo))
            return values
        try:
            raw = self.client().mget([keys[i] for i in todo])
        except redis.RedisError as e:
            self._failed("get", e)
            return values
        hits = invalid = 0
        for i, v in zip(todo, raw):
            if v is None:
                continue
            try:
                value = jsonio.loads(v)
            except ValueError:
                value = None
            if value is None or (valid is not None and not valid(value)):
                invalid += 1
                continue
            hits += 1
            values[i] = value
            if self.local:
                self.local.put(keys[i], value)
        self._count("hit", hits)
        self._count("invalid", invalid)
        self._count("miss", len(raw) - hits - invalid)
        return values

    def _count(self, event: str, n: int):
        if self.metrics and n:
            self.metrics.cache_event[event].inc(n)

    def set_many(self, items: dict[str, dict]):
        """Store fresh model answers (never errors or degraded results) locally and in one pipelined round trip."""
        if self.local:
            for k, v in items.items():
                self.local.put(k, v)
        if not items or not self.available():
            return
        if time.monotonic() < self._writes_open_until:
            self._count("write_skipped", len(items))
            return
        try:
            pipe = self.client().pipeline(transaction=False)
            for k, v in items.items():
                pipe.set(k, jsonio.dumps(v), ex=self.ttl)
            pipe.execute()
        except redis.RedisError as e:
            self._failed("set", e)

    def ping(self) -> bool:
        try:
            ok = bool(self.client().ping())
        except redis.RedisError:
            return False
        if ok:
            self._open_until = 0.0  # Redis is back: close the breaker now
        return ok


class NoCache:
    """Stand-in when caching is disabled by configuration."""
    def key(self, endpoint, model, version, normalised_input):
        return ""

    def get_many(self, keys, valid=None):
        return [None] * len(keys)

    def get_response(self, key, body):
        return None

    def put_response(self, key, body, data, items, tally=()):
        pass

    def clear_local(self):
        pass

    def set_many(self, items):
        pass

    def ping(self):
        return False
