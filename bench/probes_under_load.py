"""How fast /health answers while clients misbehave or overload the service, for several settings.

    .venv/bin/python bench/probes_under_load.py [--heavy-clients 8] [--heavy-seconds 30] [--configs NAME ...]

Per setting (each on its own redis-server + gunicorn, loopback), two scenarios, while a separate process
times GET /health every 0.25 s:
- idle: 8 connections opened and left silent for 8 s (a browser's speculative connections, a slow client);
- stalled: 8 clients that send a request's headers and the start of its body, then nothing for 8 s;
- trickle: 8 clients that send a request one byte every 0.5 s for 8 s (never silent long enough to time out);
- lazy_close: rounds of 4 clients that read a `Connection: close` response and keep the socket open 1.5 s;
- slow_read: 8 clients that send 3 requests at once for 1,000 names with all 18 languages each (~2.2 MB of
  answers), with a 4 KiB receive buffer, and read nothing for 8 s;
- heavy: N client processes each sending fresh batches of 1,000 entity texts of 62 characters (the largest
  request the API takes), retrying a 503 after its Retry-After.
A liveness probe with a 5 s timeout fails on any probe over 5 s. Prints a markdown table.
"""
import argparse
import json
import multiprocessing as mp
import random
import socket
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.http_bench import GTHREAD, gunicorn_service, memory_mb  # noqa: E402
from tests.helpers import worker_pids  # noqa: E402

STOCK = "gunicorn.workers.gthread.ThreadWorker"  # gunicorn's own gthread worker, closes on its event loop
CONFIGS = {
    "gunicorn's gthread, no admission limit (before)": {**GTHREAD, "WORKER_CLASS": STOCK, "HEAVY_ENTITY_CHARS": "0"},
    "gunicorn's gthread, admission limit": {**GTHREAD, "WORKER_CLASS": STOCK},
    "our gthread, no admission limit": {**GTHREAD, "HEAVY_ENTITY_CHARS": "0"},
    "our gthread, admission limit (default)": GTHREAD,
}
CHARS = "手内肌萎缩病毒性感冒高血压糖尿综合征急慢支气管炎肺结核胃溃疡阑尾脑梗塞肾衰竭"


def probe(base: str, seconds: float, out):
    lat, stop = [], time.monotonic() + seconds
    while time.monotonic() < stop:
        t = time.monotonic()
        try:
            urllib.request.urlopen(base + "/health", timeout=10).read()
            lat.append(time.monotonic() - t)
        except OSError:
            lat.append(float("inf"))
        time.sleep(0.25)
    out.put(sorted(lat))


def heavy_client(base: str, seconds: float, seed: int, out):
    rnd, stop = random.Random(seed), time.monotonic() + seconds
    answered, shed, failed = [], 0, []
    while time.monotonic() < stop:
        body = json.dumps({"texts": ["".join(rnd.choices(CHARS, k=62)) for _ in range(1000)]}).encode()
        sent = time.monotonic()
        while time.monotonic() < stop:
            req = urllib.request.Request(base + "/review-entity", body, {"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=120) as r:
                    r.read()
                answered.append(time.monotonic() - sent)
                break
            except urllib.error.HTTPError as e:
                with e:
                    retry = e.headers.get("Retry-After")
                if e.code == 503 and retry:
                    shed += 1
                    time.sleep(float(retry))
                    continue
                failed.append(e.code)
                break
            except OSError as e:
                failed.append(str(e))
                break
    out.put((answered, shed, failed))


def lazy_closer(port: int, rounds: int = 5, clients: int = 4, hold: float = 1.5):
    def one():
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            s.recv(65536)
            time.sleep(hold)
    for _ in range(rounds):
        ts = [threading.Thread(target=one) for _ in range(clients)]
        [t.start() for t in ts]
        [t.join() for t in ts]


def ms(seconds: float) -> str:
    return "timeout" if seconds == float("inf") else f"{seconds * 1000:,.1f}"


def idle_connections(port: int, n: int = 8, hold: float = 8.0):
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
    time.sleep(hold)
    for s in socks:
        s.close()


def stalled_clients(port: int, n: int = 8, hold: float = 8.0):
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
    for s in socks:
        s.sendall(b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100\r\n\r\n{\"na")
    time.sleep(hold)
    for s in socks:
        s.close()


def trickling_clients(port: int, n: int = 8, hold: float = 8.0):
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
    request = b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    stop, i = time.monotonic() + hold, 0
    while time.monotonic() < stop and i < len(request):
        for s in socks:
            s.sendall(request[i:i + 1])
        i += 1
        time.sleep(0.5)
    for s in socks:
        s.close()


def slow_readers(port: int, n: int = 8, hold: float = 8.0, pipelined: int = 3):
    body = json.dumps({"names": [f"Name{i:05d}" for i in range(1000)], "top_k": 18}).encode()
    request = (b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small TCP window
        s.connect(("127.0.0.1", port))
        s.sendall(request * pipelined)
        socks.append(s)
    time.sleep(hold)
    for s in socks:
        s.close()


QUIET = {"idle": idle_connections, "stalled": stalled_clients, "trickle": trickling_clients, "lazy_close": lazy_closer,
         "slow_read": slow_readers}


def summary(lat: list[float]) -> dict:
    q = lambda p: lat[min(len(lat) - 1, int(len(lat) * p))]  # noqa: E731
    return {"probes": len(lat), "p50": q(0.5), "p99": q(0.99), "max": lat[-1],
            "over_1s": sum(x > 1 for x in lat), "over_5s": sum(x > 5 for x in lat)}


def run(name: str, settings: dict, heavy_clients: int, heavy_seconds: float, workdir: Path, scenarios: list[str]) -> dict:
    ctx = mp.get_context("spawn")
    with gunicorn_service(settings, workdir) as (base, _, proc, _):
        port = int(base.rsplit(":", 1)[1])
        q = ctx.Queue()
        quiet = {}
        for scenario in scenarios:
            misbehave = QUIET[scenario]
            prober = ctx.Process(target=probe, args=(base, 7.5, q))
            prober.start()
            misbehave(port)
            quiet[scenario] = summary(q.get())
            prober.join()
        if not heavy_seconds:
            return {"name": name, **quiet}

        prober = ctx.Process(target=probe, args=(base, heavy_seconds, q))
        clients = [ctx.Process(target=heavy_client, args=(base, heavy_seconds, time.time_ns() + i, q))
                   for i in range(heavy_clients)]
        [p.start() for p in [prober, *clients]]
        got = [q.get() for _ in range(heavy_clients + 1)]
        [p.join() for p in [prober, *clients]]
        health = summary(next(g for g in got if isinstance(g, list)))
        answered = sorted(a for g in got if isinstance(g, tuple) for a in g[0])
        rss = max(memory_mb(p)["rss"] for p in worker_pids(proc.pid))
        return {"name": name, **quiet, "heavy": health, "batches": len(answered),
                "batch_p50_s": answered[len(answered) // 2] if answered else None,
                "batch_max_s": answered[-1] if answered else None,
                "shed": sum(g[1] for g in got if isinstance(g, tuple)),
                "failed": [f for g in got if isinstance(g, tuple) for f in g[2]], "worker_rss_mb": rss}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--heavy-clients", type=int, default=8)
    ap.add_argument("--heavy-seconds", type=float, default=30)
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--scenarios", nargs="+", default=list(QUIET), choices=list(QUIET), help="besides heavy")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.configs:
            rows.append(run(name, CONFIGS[name], args.heavy_clients, args.heavy_seconds, Path(tmp), args.scenarios))
            print(json.dumps(rows[-1], default=str), flush=True)
    print(f"\n/health every 0.25 s from its own process; heavy: {args.heavy_clients} clients x "
          f"{args.heavy_seconds:.0f} s of 1,000 x 62-character entity batches\n")
    heavy = ["heavy: health p50 / p99 / max ms, probes over 5 s", "batches answered, send → answer p50 / max s (incl. retries)",
             "503 overloaded", "failed", "max worker RSS MB"] if args.heavy_seconds else []
    print("| setting | " + " | ".join(f"{s}: health p50 / max ms" for s in args.scenarios) + "".join(f" | {h}" for h in heavy) + " |")
    print("|---" * (1 + len(args.scenarios) + len(heavy)) + "|")
    for r in rows:
        cells = [f"{ms(r[s]['p50'])} / {ms(r[s]['max'])}" for s in args.scenarios]
        if args.heavy_seconds:
            hv = r["heavy"]
            batch = f"{r['batches']}, {r['batch_p50_s']:.1f} / {r['batch_max_s']:.1f}" if r["batches"] else "0"
            cells += [f"{ms(hv['p50'])} / {ms(hv['p99'])} / {ms(hv['max'])}, {hv['over_5s']} of {hv['probes']}", batch,
                      str(r["shed"]), str(len(r["failed"])), f"{r['worker_rss_mb']:.0f}"]
        print(f"| {r['name']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
