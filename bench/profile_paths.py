"""Where a request's time goes: each scenario through the real app (its WSGI callable, real
redis-server), timed per request and profiled with pyinstrument.

    .venv/bin/python bench/profile_paths.py [--requests 2000] [--profile hit miss] [--set KEY=VALUE ...] [--out DIR]

--set overrides service settings (app/config.py), e.g. the first landing's: --set LOCAL_CACHE_ITEMS=0
CROSS_REQUEST_BATCHING=false ENTITY_ENCODER_INT8=false.

Prints the median microseconds per request of each path, and for --profile SCENARIO writes a
pyinstrument HTML/text profile. The WSGI server and the network are left out on purpose: this
shows what our code costs per request, which is what the HTTP benchmark's ratios are made of.
Each request's WSGI environ is built before the clock starts, so the client side (which Flask's
test client would add: request building, JSON encoding, response wrapping) is not counted.
"""
import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.helpers import RedisServer  # noqa: E402

SURNAMES = ["Nakamura", "Ivanov", "Schmidt", "O'Neill", "Rossi", "Nguyen", "Kowalski", "Dvorak"]


def scenarios():
    fresh = (f"{s}{i}" for i in itertools.count() for s in SURNAMES)
    fresh_entity = (f"{a}{b}{c}{d}炎" for a, b, c, d in
                    itertools.product("手肺肝胃肾脑心眼", "内外上下前后", "部叶管腔膜壁", "左右双单"))
    return {
        "health": ("GET", "/health", lambda: None),
        "hit": ("POST", "/classify", lambda: {"name": "Nakamura"}),
        "miss": ("POST", "/classify", lambda: {"name": next(fresh)}),
        "batch256": ("POST", "/classify", lambda: {"names": [next(fresh) for _ in range(256)]}),
        "review_hit": ("POST", "/review-entity", lambda: {"text": "手内肌萎缩"}),
        "review_miss": ("POST", "/review-entity", lambda: {"text": next(fresh_entity)}),
    }


def environ(method, path, body) -> dict:
    from werkzeug.test import EnvironBuilder
    builder = EnvironBuilder(path=path, method=method, json=body)
    try:
        return builder.get_environ()
    finally:
        builder.close()


def call(app, env: dict):
    """One request through the WSGI callable, as gunicorn makes it, response body consumed."""
    status = []
    response = app(env, lambda s, headers, exc_info=None: status.append(s))
    try:
        data = b"".join(response)
    finally:
        getattr(response, "close", lambda: None)()
    assert status[0].startswith("200"), (env["PATH_INFO"], status[0], data[:200])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--profile", nargs="*", default=[], help="scenarios to profile with pyinstrument")
    ap.add_argument("--out", type=Path, default=ROOT / "docs/reports/profile")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="service settings to override")
    args = ap.parse_args()
    from app.config import from_env
    given = dict(item.split("=", 1) for item in args.set)
    overrides = {k: v for k, v in from_env(given).items() if k in given}  # typed and checked as the service's

    from app import create_app
    with tempfile.TemporaryDirectory() as tmp:
        redis = RedisServer(Path(tmp)).start()
        try:
            app = create_app({"REDIS_URL": redis.url, "TORCH_THREADS": 1, **overrides})
            results = {}
            for name, (method, path, body) in scenarios().items():
                n = args.requests if name not in ("review_miss", "batch256") else min(args.requests, 200)
                for _ in range(20):  # warm-up (and fill the cache for the hit scenarios)
                    call(app, environ(method, path, body()))
                times = []
                for _ in range(n):
                    env = environ(method, path, body())
                    t = time.perf_counter()
                    call(app, env)
                    times.append(time.perf_counter() - t)
                results[name] = round(statistics.median(times) * 1e6, 1)
                print(f"{name:12s} median {results[name]:9.1f} µs/request ({n} requests)", flush=True)
                if name in args.profile:
                    from pyinstrument import Profiler
                    profiler = Profiler(interval=0.0002)
                    envs = [environ(method, path, body()) for _ in range(n)]
                    with profiler:
                        for env in envs:
                            call(app, env)
                    args.out.mkdir(parents=True, exist_ok=True)
                    (args.out / f"{name}.txt").write_text(profiler.output_text(unicode=True, show_all=False))
                    print(profiler.output_text(unicode=True, color=False, show_all=False)[:6000])
            print(json.dumps({"median_us": results, "ratio_to_health": {k: round(results["health"] / v, 3) for k, v in results.items()}}))
        finally:
            redis.stop()


if __name__ == "__main__":
    main()
