"""What `gc.freeze()` after loading the models buys (app/__init__.py): the cost of a full garbage
collection, and the collections that land on the request path, frozen (as served) and unfrozen.

    .venv/bin/python bench/gc_pause.py [--requests 5000] [--rounds 2]

One process, the real app (all models loaded, real redis-server), requests through its WSGI
callable as in bench/profile_paths.py. Each round measures both settings:

- a full collection (`gc.collect()`), median of 10, and how many objects the collector tracks;
- --requests requests alternating the miss and batch256 paths (they allocate the most), with every
  collection the interpreter starts timed through `gc.callbacks`: how many per generation, the
  longest, and the request latency percentiles they end up in.
"""
import argparse
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.profile_paths import call, environ, scenarios  # noqa: E402
from tests.helpers import RedisServer  # noqa: E402


class CollectionTimer:
    """Times every collection the interpreter runs, by generation (gc.callbacks)."""

    def __init__(self):
        self.pauses = {0: [], 1: [], 2: []}
        self._start = None

    def __call__(self, phase, info):
        if phase == "start":
            self._start = time.perf_counter()
        elif self._start is not None:
            self.pauses[info["generation"]].append(time.perf_counter() - self._start)
            self._start = None

    def __enter__(self):
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc):
        gc.callbacks.remove(self)


def set_frozen(frozen: bool):
    if frozen:
        gc.collect()
        gc.freeze()  # what create_app does after loading
    else:
        gc.unfreeze()


def full_collection_ms(repeats: int = 10) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        gc.collect()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def request_load(app, paths: dict, n: int) -> tuple[list[float], CollectionTimer]:
    plan = [paths["batch256"] if i % 50 == 49 else paths["miss"] for i in range(n)]  # 1 batch per 49 misses
    latencies = []
    with CollectionTimer() as timer:
        for method, path, body in plan:
            env = environ(method, path, body())
            t = time.perf_counter()
            call(app, env)
            latencies.append(time.perf_counter() - t)
    return latencies, timer


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()

    from app import create_app
    with tempfile.TemporaryDirectory() as tmp:
        redis = RedisServer(Path(tmp)).start()
        try:
            app = create_app({"REDIS_URL": redis.url, "TORCH_THREADS": 1})
            paths = scenarios()  # one generator of fresh names for the whole run: every miss is a miss
            request_load(app, paths, 200)  # warm-up
            print("| round | heap | objects frozen / collectable | full collection ms | gen 0/1/2 collections | longest gen-2 ms "
                  "| request p50 / p99 / p99.9 / max ms |")
            print("|---|---|---|---|---|---|---|")
            for r in range(1, args.rounds + 1):
                for frozen in (True, False):
                    set_frozen(frozen)
                    tracked = len(gc.get_objects())  # the frozen ones are not in any generation
                    full = full_collection_ms()
                    set_frozen(frozen)  # the timed collections above must not change what the load finds
                    lat, timer = request_load(app, paths, args.requests)
                    counts = "/".join(str(len(timer.pauses[g])) for g in (0, 1, 2))
                    longest2 = max(timer.pauses[2], default=0.0) * 1e3
                    print(f"| {r} | {'frozen' if frozen else 'unfrozen'} | {gc.get_freeze_count():,} / {tracked:,} | {full:.1f} | {counts} "
                          f"| {longest2:.1f} | {pct(lat, 0.5):.2f} / {pct(lat, 0.99):.2f} / {pct(lat, 0.999):.2f} "
                          f"/ {max(lat) * 1e3:.2f} |", flush=True)
        finally:
            redis.stop()


if __name__ == "__main__":
    main()
