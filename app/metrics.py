"""Prometheus metrics, per app (tests make fresh ones), multiprocess-aware under gunicorn.

With PROMETHEUS_MULTIPROC_DIR set (deploy/gunicorn.conf.py does), every worker writes to
that directory and /metrics aggregates all of them.
"""
import contextlib
import fcntl
import logging
import os
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.mmap_dict import MmapedDict

log = logging.getLogger("gunicorn.error")
CACHE_EVENTS = ("local_hit", "hit", "miss", "invalid", "error", "skipped", "refused", "write_skipped")
HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}  # RFC 9110, 5789
UNREAD_REASONS = ("unsupported_script", "unknown_characters", "punctuation_at_edge")
CLOSE_REASONS = ("request_timeout", "silent", "response_timeout", "stopping")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("http_requests_total", "HTTP requests", ["endpoint", "method", "status"], registry=r)
        self.latency = Histogram("http_request_duration_seconds", "request latency", ["endpoint", "method"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.cache_events = Counter("prediction_cache_events_total",
                                    "cache events per item: local_hit, hit (Redis), miss, invalid (an entry that does "
                                    "not read: a miss), error, skipped (Redis paused after an error), refused (a "
                                    "write Redis refused: OOM, READONLY), write_skipped (writes paused after that)",
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
                         "supported script, an entity text with no character the encoder knows or with punctuation at "
                         "an edge", ["reason"], registry=r)
        self.without_model = {reason: unread.labels(reason=reason) for reason in UNREAD_REASONS}
        # Which checkpoint each model runs, per instance: a rollout or a HUP reload shows here. livemax: the
        # series of a worker that has exited (an old version after a reload) leave with it.
        self.model_info = Gauge("model_info", "1 for the model_version each loaded model serves", ["model", "version"],
                                multiprocess_mode="livemax", registry=r)
        # What the models answer, as clients receive it (cached or not): a shift says the inputs changed.
        self.name_answers = Counter("name_answers_total", "names answered with a prediction, by model, top language "
                                    "and confidence (low: top probability under LOW_CONFIDENCE_THRESHOLD, or "
                                    "other_language_evidence)", ["model", "language", "confidence"], registry=r)
        # Of those, the names written with letters or endings of a language the models do not cover: how many users
        # the 18 labels leave out (Turkish, Romanian, ...), which low_confidence alone does not tell apart.
        self.other_language_names = Counter("name_answers_other_language_total", "names answered whose letters or "
                                            "endings none of the 18 languages writes", ["model"], registry=r)
        self.entity_verdicts = Counter("entity_answers_total", "entity texts answered, by verdict", ["verdict"],
                                       registry=r)
        self.entity_scores = Histogram("entity_answer_score", "the score of each entity text answered",
                                       buckets=SCORE_BUCKETS, registry=r)
        self._answer_children = {}
        self.shed = Counter("heavy_requests_shed_total", "large batches answered 503 overloaded because the worker "
                            "already held its share of heavy work (app/admission.py)", registry=r)

    def observe_request(self, endpoint: str, method: str, status: str, seconds: float):
        """Count and time one request; the label set is bounded (URL rules × methods × statuses): a method outside
        HTTP's own is counted as "other". Each made-up method had been a series of its own in every worker's files:
        2,000 requests with random methods took /metrics to 3 MB and 648 ms a scrape."""
        method = method if method in HTTP_METHODS else "other"
        key = (endpoint, method, status)
        children = self._request_children.get(key)
        if children is None:
            children = self._request_children.setdefault(key, (
                self.requests.labels(endpoint=endpoint, method=method, status=status),
                self.latency.labels(endpoint=endpoint, method=method)))
        children[0].inc()
        children[1].observe(seconds)

    def answers(self, endpoint: str, head: dict, results: list[dict]) -> tuple:
        """What one response answers, as (count it, amount) pairs: applied when it is sent, and again each time a
        remembered copy of it is (app/cache.py). A name in no supported script has no prediction to count
        (inputs_without_model_total has it)."""
        if endpoint == "classify":
            groups, other = {}, 0
            for r in results:
                if r["predictions"]:
                    key = (head["model"], r["predictions"][0]["language"], "low" if r["low_confidence"] else "high")
                    groups[key] = groups.get(key, 0) + 1
                    other += bool(r["other_language_evidence"])
            tally = [(self._answer_child(self.name_answers, key).inc, n) for key, n in groups.items()]
            if other:
                tally.append((self._answer_child(self.other_language_names, (head["model"],)).inc, other))
            return tuple(tally)
        valid = sum(r["valid"] for r in results)
        tally = [(self._answer_child(self.entity_verdicts, (v,)).inc, n)
                 for v, n in (("valid", valid), ("invalid", len(results) - valid)) if n]
        observe = self.entity_scores.observe
        return (*tally, *((observe, r["score"]) for r in results))

    def _answer_child(self, metric, labels: tuple):
        """A metric's child for these label values, resolved once (labels() locks and validates each call)."""
        child = self._answer_children.get((metric, labels))
        if child is None:
            child = self._answer_children.setdefault((metric, labels), metric.labels(*labels))
        return child

    @staticmethod
    def count(tally: tuple):
        for add, amount in tally:
            add(amount)

    def observe_forward(self, model: str, items: int, seconds: float):
        self.inference.labels(model=model).observe(seconds)
        self.batch_size.labels(model=model).observe(items)

    def exposition(self) -> bytes:
        if path := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            with files_locked(path, exclusive=False):  # never halfway through archive_dead_worker
                return generate_latest(registry)
        return generate_latest(self.registry)


ARCHIVE_LOCK_WAIT = 2.0  # seconds


@contextlib.contextmanager
def files_locked(path: str, exclusive: bool, wait: float | None = None):
    """The multiprocess directory's lock: scrapes share it, folding a dead worker's files in takes it alone.
    Yields False if `wait` seconds passed without it."""
    with open(os.path.join(path, "files.lock"), "a") as f:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        if wait is None:
            fcntl.flock(f, mode)
            yield True
            return
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(f, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.01)
        yield True


def archive_dead_worker(pid: int, path: str | None = None):
    """After a worker exits (gunicorn's child_exit, in the master): its live gauges go, as prometheus-client does
    it, and its counter and histogram files are added into one archive file per type, then removed. /metrics sums
    those types over all files, so every total stays as it was (a counter must never fall), and the directory no
    longer gains two files per worker ever started: 60 HUP reloads had left 188 files and taken a scrape from 3 to
    26 ms (docs/benchmarks.md, "Session 18")."""
    path = path or os.environ["PROMETHEUS_MULTIPROC_DIR"]
    multiprocess.mark_process_dead(pid, path)
    # A scrape sees the counts in the worker's file or in the archive, once. The master waits for scrapes at most
    # ARCHIVE_LOCK_WAIT (a worker stopped mid-scrape must not stall it); then the files stay, counted as before.
    with files_locked(path, exclusive=True, wait=ARCHIVE_LOCK_WAIT) as locked:
        if not locked:
            log.warning("metrics files of worker %s left as they are: the directory stayed locked", pid)
            return
        for kind in ("counter", "histogram"):
            dead = os.path.join(path, f"{kind}_{pid}.db")
            if not os.path.exists(dead):
                continue
            archive = MmapedDict(os.path.join(path, f"{kind}_archive.db"))  # "<type>_<anything>.db", as the collector reads
            try:
                for key, value, timestamp, _ in MmapedDict.read_all_values_from_file(dead):
                    archive.write_value(key, archive.read_value(key)[0] + value, timestamp)
            finally:
                archive.close()
            os.remove(dead)


class ServerMetrics:
    """What the gunicorn worker does with clients outside the app (app/gunicorn_worker.py), written to the same
    multiprocess directory, so /metrics shows it beside the app's. One per worker process (deploy/gunicorn.conf.py
    post_fork): two objects for one series in a process would overwrite each other's counts in its file."""

    def __init__(self, registry=None):
        closed = Counter("client_connections_closed_total", "connections the server closed on a client: request_timeout "
                         "(its request stopped arriving: answered 408), silent (sent nothing for keepalive seconds), "
                         "response_timeout (took no byte of its answer for WORKER_TIMEOUT), stopping (had sent nothing "
                         "when the worker stopped)", ["reason"], registry=registry)
        self.closed = {reason: closed.labels(reason=reason) for reason in CLOSE_REASONS}
        self.refused = Counter("server_error_answers_total", "error answers the server wrote itself, before the app: "
                               "400 (a malformed request line or header), 414, 431", ["status"], registry=registry)
        self.buffered = Gauge("slow_reader_buffered_bytes", "bytes of answers held for clients slow to read them",
                              multiprocess_mode="livesum", registry=registry)
