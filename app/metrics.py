"""Prometheus metrics, per app (tests make fresh ones), multiprocess-aware under gunicorn.

With PROMETHEUS_MULTIPROC_DIR set (deploy/gunicorn.conf.py does), every worker writes to
that directory and /metrics aggregates all of them.
"""
import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

CACHE_EVENTS = ("local_hit", "hit", "miss", "error", "skipped")
UNREAD_REASONS = ("unsupported_script", "unknown_characters")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("http_requests_total", "HTTP requests", ["endpoint", "method", "status"], registry=r)
        self.latency = Histogram("http_request_duration_seconds", "request latency", ["endpoint", "method"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.cache_events = Counter("prediction_cache_events_total", "cache events per item: local_hit, hit (Redis), miss, error, skipped",
                                    ["event"], registry=r)
        # Children resolved once: labels() takes a lock and validates on every call (µs on the hit path),
        # and every event series exists from the start at 0, as Prometheus advises.
        self.cache_event = {e: self.cache_events.labels(event=e) for e in CACHE_EVENTS}
        self._request_children = {}
        self.inference = Histogram("model_inference_seconds", "time in model forward passes", ["model"],
                                   buckets=LATENCY_BUCKETS, registry=r)
        self.batch_size = Histogram("model_batch_size", "items per forward pass", ["model"],
                                    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000), registry=r)
        # Inputs the models cannot read, answered without them: a rise says a client sends something new.
        unread = Counter("inputs_without_model_total", "items answered without a forward pass: a name in no "
                         "supported script, an entity text with no character the encoder knows", ["reason"], registry=r)
        self.without_model = {reason: unread.labels(reason=reason) for reason in UNREAD_REASONS}
        self.shed = Counter("heavy_requests_shed_total", "large batches answered 503 overloaded because the worker "
                            "already held its share of heavy work (app/admission.py)", registry=r)

    def observe_request(self, endpoint: str, method: str, status: str, seconds: float):
        """Count and time one request; the label set is bounded (URL rules × methods × statuses)."""
        key = (endpoint, method, status)
        children = self._request_children.get(key)
        if children is None:
            children = self._request_children.setdefault(key, (
                self.requests.labels(endpoint=endpoint, method=method, status=status),
                self.latency.labels(endpoint=endpoint, method=method)))
        children[0].inc()
        children[1].observe(seconds)

    def observe_forward(self, model: str, items: int, seconds: float):
        self.inference.labels(model=model).observe(seconds)
        self.batch_size.labels(model=model).observe(items)

    def exposition(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
