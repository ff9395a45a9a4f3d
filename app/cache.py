"""Redis prediction cache that never makes a request fail.

Keys hash (endpoint, model, model_version, normalised input), so a new checkpoint can never
serve a stale answer. Batches use one MGET and one pipelined write. Any RedisError (down,
slow past the socket timeout, OOM) opens a circuit breaker: Redis is skipped for
CACHE_RETRY_AFTER_SECONDS, then tried again, so caching resumes by itself.
The client is created lazily in the process that uses it (after gunicorn forks).
"""
import hashlib
import json
import logging
import os
import time

import redis

log = logging.getLogger(__name__)


def cache_key(endpoint: str, model: str, version: str, normalised_input: str) -> str:
    raw = json.dumps([endpoint, model, version, normalised_input], ensure_ascii=False)
    return "pred:" + hashlib.sha256(raw.encode()).hexdigest()


class PredictionCache:
    def __init__(self, url: str, ttl: int, socket_timeout: float, retry_after: float, metrics=None):
        self.url, self.ttl, self.socket_timeout, self.retry_after = url, ttl, socket_timeout, retry_after
        self.metrics = metrics
        self._client, self._pid, self._open_until = None, None, 0.0

    def client(self) -> redis.Redis:
        if self._client is None or self._pid != os.getpid():  # never share a connection across fork
            self._client = redis.Redis.from_url(self.url, socket_timeout=self.socket_timeout,
                                                socket_connect_timeout=self.socket_timeout, retry=None,
                                                health_check_interval=0)
            self._pid = os.getpid()
        return self._client

    def available(self) -> bool:
        return time.monotonic() >= self._open_until

    def _failed(self, op: str, e: Exception):
        self._open_until = time.monotonic() + self.retry_after
        log.warning("redis %s failed (%s); serving uncached for %.1fs", op, e, self.retry_after)
        if self.metrics:
            self.metrics.cache_events.labels(event="error").inc()

    def get_many(self, keys: list[str]) -> list[dict | None]:
        """Cached values in key order; None for a miss *or* while Redis is unavailable."""
        if not keys or not self.available():
            if keys and self.metrics:
                self.metrics.cache_events.labels(event="skipped").inc(len(keys))
            return [None] * len(keys)
        try:
            raw = self.client().mget(keys)
        except redis.RedisError as e:
            self._failed("get", e)
            return [None] * len(keys)
        values = [json.loads(v) if v is not None else None for v in raw]
        if self.metrics:
            hits = sum(v is not None for v in values)
            self.metrics.cache_events.labels(event="hit").inc(hits)
            self.metrics.cache_events.labels(event="miss").inc(len(values) - hits)
        return values

    def set_many(self, items: dict[str, dict]):
        """Store fresh model answers (never errors or degraded results) in one pipelined round trip."""
        if not items or not self.available():
            return
        try:
            pipe = self.client().pipeline(transaction=False)
            for k, v in items.items():
                pipe.set(k, json.dumps(v, ensure_ascii=False), ex=self.ttl)
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
    def get_many(self, keys):
        return [None] * len(keys)

    def set_many(self, items):
        pass

    def ping(self):
        return False
