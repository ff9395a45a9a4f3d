"""Prometheus metrics, per app (tests make fresh ones), multiprocess-aware under gunicorn.

With PROMETHEUS_MULTIPROC_DIR set (deploy/gunicorn.conf.py does), every worker writes to
that directory and /metrics aggregates all of them.
"""
import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

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
        self.inference = Histogram("model_inference_seconds", "time in model forward passes", ["model"],
                                   buckets=LATENCY_BUCKETS, registry=r)
        self.batch_size = Histogram("model_batch_size", "items per forward pass", ["model"],
                                    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000), registry=r)

    def observe_forward(self, model: str, items: int, seconds: float):
        self.inference.labels(model=model).observe(seconds)
        self.batch_size.labels(model=model).observe(items)

    def exposition(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
