"""Every kind of client at once, through reloads, worker kills and Redis restarts: is any answer lost or wrong?

    .venv/bin/python bench/soak.py [--seconds 60] [--clients 16] [--chaos hup redis kill_worker] [--every 5]
                                   [--nginx] [--set KEY=VALUE ...]

One redis-server and gunicorn (deploy/gunicorn.conf.py, default settings) on free loopback ports; with --nginx,
two one-worker instances behind deploy/nginx.conf sharing the redis-server (tests/helpers.run_cluster). Each client
thread picks, again and again, one kind of client (KINDS):
- keepalive: 1-30 requests on one connection, single names and batches of up to 300 names; on
  `Connection: close` it opens a new connection, as every HTTP/1.1 client does;
- pipelined: 2-8 requests written at once, answers read in order (after a `Connection: close`, the rest
  are sent again on new connections);
- slow_reader: 1,000 names with all 18 languages (~1.5 MB) through a 4 KiB receive window;
- chunked (`Transfer-Encoding: chunked`), expect (`Expect: 100-continue`), entity batches;
- heavy: 100 entity texts of ~20 characters, a batch a worker admits only while it has room; after a 503
  `overloaded` it tries once more after `Retry-After`;
- cut_off: a request stopped midway and reset; abandon: a request whose client leaves before its answer;
- garbage: binary junk, HTTP/9.9, a negative Content-Length, truncated JSON, invalid UTF-8, deep nesting.
Meanwhile a prober times GET /health every 0.1 s, and every `--every` seconds (±30 %) the next of the `--chaos`
events happens: `hup` (the master starts new workers, the old ones finish), `kill_worker` (SIGKILL), `redis`
(redis-server stopped for 0.5 s, then started again, empty).

Every answer is checked: 200 (or 503 `overloaded`, counted apart), the inputs echoed in input order, and one
answer for one input the whole run long, whichever worker, reload or cache tier gave it. Garbage must get a
JSON error (under 500, or nginx's 501 and 505), or a close. Prints the counts, the probes' times and the largest worker's RSS before and
after. `lost` counts requests without an answer: a SIGKILLed worker's connections
lose theirs; with `hup` and `redis` alone there should be none. Exit status 1 on any wrong or lost answer.
"""
import argparse
import contextlib
import itertools
import json
import os
import random
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.http_bench import gunicorn_service, memory_mb  # noqa: E402
from tests.helpers import Answers, RedisServer, run_cluster, worker_pids  # noqa: E402

NAMES = ["Nakamura", "Ivanov", "Smith", "Nguyen", "Müller", "O'Neill", "van der Berg", "Kowalski", "Rossi",
         "Papadopoulos", "García", "Kim", "Dvořák", "MacDonald", "Dubois", "Silva", "Haddad", "Zhang"]
TEXTS = ["手内肌萎缩", "缩萎肌内手", "高血压", "糖尿病肾病", "阿莫西林胶囊", "头痛"]
RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends a reset


def request(path: str, body) -> bytes:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: soak\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode() + data


class Connection:
    """A client connection that reads HTTP/1.1 answers one after another (tests/helpers.Answers)."""

    def __init__(self, port: int, rcvbuf: int = 0, step: int = 65536):
        self.sock = socket.socket()
        if rcvbuf:  # before connect: a small window from the start (set after it, each step stalled 0.2 s: a client bug)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(60)
        self.sock.connect(("127.0.0.1", port))
        self.answers = Answers(self.sock, step)

    def answer(self) -> tuple[int, dict, bytes]:
        status_line, headers, body = self.answers.next()
        return int(status_line.split()[1]), headers, body

    def close(self, reset: bool = False):
        if reset:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET)
        self.sock.close()


class Soak:
    def __init__(self, port: int, seed: int = 0):
        self.port, self.seed = port, seed
        self.counts, self.problems = Counter(), []
        self.first: dict[tuple, tuple] = {}  # (endpoint, input) -> the first answer seen
        self.lock = threading.Lock()
        self.health_ms: list[float] = []

    def note(self, kind: str, detail: str = ""):
        with self.lock:
            self.counts[kind] += 1
            if detail and len(self.problems) < 40:
                self.problems.append(f"{kind}: {detail}")

    def same_as_before(self, key: tuple, value: tuple, close: float) -> bool:
        with self.lock:
            first = self.first.setdefault(key, value)
        return first[0] == value[0] and abs(first[1] - value[1]) <= close

    def check(self, endpoint: str, status: int, body: bytes, inputs: list[str]):
        """One answer: 200 with the inputs in order, each answered as the first time it was seen."""
        if status == 503:
            self.note("overloaded")
            return
        if status != 200:
            self.note("wrong", f"{endpoint} {status} {body[:200]!r}")
            return
        data = json.loads(body)
        rows = data.get("results", [data])
        field = "name" if endpoint == "/classify" else "text"
        if [r[field] for r in rows] != inputs:
            self.note("wrong", f"{endpoint}: asked {inputs[:3]}..., answered {[r[field] for r in rows][:3]}...")
            return
        for r in rows:
            # Rounded to 4 places on the way out; a batch and a single scoring agree to 1e-5 before that.
            value = ((r["predictions"][0]["language"], r["predictions"][0]["probability"]) if field == "name"
                     else (r["valid"], r["score"]))
            if not self.same_as_before((endpoint, r[field]), value, 2e-4):
                self.note("wrong", f"{endpoint} {r[field]!r}: {value}, earlier {self.first[(endpoint, r[field])]}")
                return
        self.note("answered", "")

    # --- the kinds of client ---

    def keepalive(self, rng):
        conn = Connection(self.port)
        for _ in range(rng.randint(1, 30)):
            if rng.random() < 0.5:
                names = [rng.choice(NAMES) + (str(rng.randint(0, 10**6)) if rng.random() < 0.3 else "")]
                body = {"name": names[0]}
            else:
                names = [rng.choice(NAMES) + rng.choice(["", "a", "ov", "son"]) for _ in range(rng.randint(1, 300))]
                body = {"names": names}
            conn.sock.sendall(request("/classify", body))
            status, headers, data = conn.answer()
            self.check("/classify", status, data, names)
            if headers.get("connection", "").lower() == "close":
                self.note("told_to_close")
                conn.close()
                conn = Connection(self.port)
        conn.close()

    def pipelined(self, rng):
        conn = Connection(self.port)
        names = [f"{rng.choice(NAMES)}{rng.randint(0, 999)}" for _ in range(rng.randint(2, 8))]
        conn.sock.sendall(b"".join(request("/classify", {"name": n}) for n in names))
        for i, name in enumerate(names):
            status, headers, data = conn.answer()
            self.check("/classify", status, data, [name])
            if headers.get("connection", "").lower() == "close":  # the rest were not read: send them again
                self.note("told_to_close")
                for again in names[i + 1:]:
                    retry = Connection(self.port)
                    retry.sock.sendall(request("/classify", {"name": again}))
                    self.check("/classify", *retry.answer()[::2], [again])
                    retry.close()
                break
        conn.close()

    def slow_reader(self, rng):
        conn = Connection(self.port, rcvbuf=4096, step=4096)
        names = [f"{rng.choice(NAMES)}{i}" for i in range(1000)]
        conn.sock.sendall(request("/classify", {"names": names, "top_k": 18}))
        self.check("/classify", *conn.answer()[::2], names)
        conn.close()

    def chunked(self, rng):
        conn = Connection(self.port)
        names = [rng.choice(NAMES) for _ in range(rng.randint(1, 50))]
        body = json.dumps({"names": names}).encode()
        cut = rng.randint(1, len(body) - 1)
        conn.sock.sendall(b"POST /classify HTTP/1.1\r\nHost: soak\r\nContent-Type: application/json\r\n"
                          b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n" % (cut, body[:cut]))
        time.sleep(0.01)
        conn.sock.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body) - cut, body[cut:]))
        self.check("/classify", *conn.answer()[::2], names)
        conn.close()

    def expect(self, rng):
        conn = Connection(self.port)
        names = [rng.choice(NAMES)]
        head, _, body = request("/classify", {"names": names}).partition(b"\r\n\r\n")
        conn.sock.sendall(head + b"\r\nExpect: 100-continue\r\n\r\n")
        time.sleep(0.01)
        conn.sock.sendall(body)
        status, headers, data = conn.answer()
        if status == 100:
            status, headers, data = conn.answer()
        self.check("/classify", status, data, names)
        conn.close()

    def entities(self, rng):
        conn = Connection(self.port)
        texts = [rng.choice(TEXTS) + rng.choice(["", "病", "片"]) for _ in range(rng.randint(1, 64))]
        conn.sock.sendall(request("/review-entity", {"texts": texts}))
        self.check("/review-entity", *conn.answer()[::2], texts)
        conn.close()

    def heavy(self, rng):
        """A batch the worker admits only while it has room (README, "Limits"): on 503 `overloaded`, one retry
        after its Retry-After, as a client should."""
        texts = [f"{rng.choice(TEXTS)}{rng.choice(TEXTS)}{rng.choice(TEXTS)}{rng.randint(0, 10**6)}" for _ in range(100)]
        for attempt in range(2):
            conn = Connection(self.port)
            conn.sock.sendall(request("/review-entity", {"texts": texts}))
            status, headers, data = conn.answer()
            conn.close()
            if status != 503 or attempt:
                break
            time.sleep(float(headers.get("retry-after", "1")))
        self.check("/review-entity", status, data, texts)

    def cut_off(self, rng):
        conn = Connection(self.port)
        whole = request("/classify", {"names": [rng.choice(NAMES) for _ in range(200)]})
        conn.sock.sendall(whole[:rng.randint(1, len(whole) - 1)])
        time.sleep(rng.random() * 0.2)
        conn.close(reset=True)
        self.note("cut_off")

    def abandon(self, rng):
        conn = Connection(self.port)
        conn.sock.sendall(request("/review-entity", {"texts": [f"{rng.choice(TEXTS)}{i}" for i in range(50)]}))
        conn.close(reset=rng.random() < 0.5)
        self.note("abandoned")

    def garbage(self, rng):
        conn = Connection(self.port)
        conn.sock.settimeout(10)
        conn.sock.sendall(rng.choice([
            b"\x00\xff" * rng.randint(1, 2000) + b"\r\n\r\n",
            b"GET / HTTP/9.9\r\n\r\n",
            b"POST /classify HTTP/1.1\r\nHost: soak\r\nContent-Length: -5\r\n\r\n",
            b"POST /classify HTTP/1.1\r\nHost: soak\r\nContent-Type: application/json\r\nContent-Length: 3\r\n\r\n{\"n",
            request("/classify", b'{"name": "\xff\xfe"}'),
            request("/review-entity", b"[" * 100000)]))
        try:
            status, _, data = conn.answer()
        except (EOFError, ConnectionError):
            self.note("garbage_closed")
        else:
            # 501 and 505 are refusals of the request itself (nginx: a Transfer-Encoding it lacks, HTTP/9.9)
            ok = (status < 500 or status in (501, 505)) and data.startswith(b'{"error"')
            self.note("garbage_refused" if ok else "wrong", "" if ok else f"garbage: {status} {data[:100]!r}")
        conn.close()

    KINDS = {"keepalive": 6, "pipelined": 3, "slow_reader": 1, "chunked": 2, "expect": 2, "entities": 2,
             "heavy": 1, "cut_off": 2, "abandon": 2, "garbage": 2}

    def client(self, seed: int, until: float):
        rng = random.Random(seed)
        kinds = [k for k, weight in self.KINDS.items() for _ in range(weight)]
        while time.monotonic() < until:
            kind = rng.choice(kinds)
            try:
                getattr(self, kind)(rng)
            except (OSError, EOFError) as e:
                self.note("lost", f"{time.monotonic():.1f} {kind}: {type(e).__name__} {e}")

    def prober(self, until: float):
        while time.monotonic() < until:
            start = time.monotonic()
            try:
                conn = Connection(self.port)
                conn.sock.settimeout(10)
                conn.sock.sendall(b"GET /health HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n")
                status = conn.answer()[0]
                conn.close()
                if status != 200:
                    self.note("health_failed", str(status))
            except (OSError, EOFError) as e:
                self.note("health_failed", repr(e))
            self.health_ms.append((time.monotonic() - start) * 1000)
            time.sleep(0.1)

    def run(self, seconds: float, clients: int, chaos=None) -> dict:
        until = time.monotonic() + seconds
        threads = [threading.Thread(target=self.client, args=(self.seed + i, until)) for i in range(clients)]
        threads.append(threading.Thread(target=self.prober, args=(until,)))
        if chaos:
            threads.append(threading.Thread(target=chaos, args=(until,)))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        probes = sorted(self.health_ms)
        return {"counts": dict(self.counts), "problems": self.problems,
                "health_ms": {"p50": round(probes[len(probes) // 2], 1), "max": round(probes[-1], 1)} if probes else {}}


def chaos_events(masters: list, redis, events: list[str], every: float, log=print, seed: int = 99):
    """A function for Soak.run: the next of `events`, in turn, every `every` seconds (±30 %) until the run ends;
    `hup` and `kill_worker` go to the gunicorn masters in turn."""
    rng = random.Random(seed)

    def run(until: float):
        for i in itertools.count():
            time.sleep(every * rng.uniform(0.7, 1.3))
            if time.monotonic() > until - 2:
                return
            event, master = events[i % len(events)], masters[i // len(events) % len(masters)]
            if event == "hup":
                master.send_signal(signal.SIGHUP)
            elif event == "kill_worker" and (workers := sorted(worker_pids(master.pid))):
                os.kill(rng.choice(workers), signal.SIGKILL)
            elif event == "redis":
                redis.stop()
                time.sleep(0.5)
                redis.start()
            of_one = len(masters) > 1 and event != "redis"  # the redis-server is shared
            log(f"{time.monotonic():.1f} {event}" + (f" (instance {masters.index(master) + 1})" if of_one else ""))
    return run


@contextlib.contextmanager
def service(settings: dict, workdir: Path, nginx: bool):
    """(port the clients use, redis-server, gunicorn masters): one instance, or two behind nginx (deploy/nginx.conf)."""
    if not nginx:
        with gunicorn_service(settings, workdir) as (base, redis, proc, _):
            yield int(base.rsplit(":", 1)[1]), redis, [proc]
        return
    redis = RedisServer(workdir).start()
    try:
        with run_cluster(workdir, redis, **settings) as (lb, _, procs):
            yield int(lb.rsplit(":", 1)[1]), redis, list(procs.values())
    finally:
        redis.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--chaos", nargs="*", default=["hup", "redis"], choices=["hup", "kill_worker", "redis"])
    ap.add_argument("--every", type=float, default=5.0, help="seconds between chaos events (±30 %%)")
    ap.add_argument("--nginx", action="store_true", help="two one-worker instances behind deploy/nginx.conf")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="service settings, e.g. WORKER_CLASS=gunicorn.workers.gthread.ThreadWorker (gunicorn's own)")
    args = ap.parse_args()
    settings = dict(item.split("=", 1) for item in args.set)
    with tempfile.TemporaryDirectory() as tmp, service(settings, Path(tmp), args.nginx) as (port, redis, masters):
        soak = Soak(port)
        chaos = chaos_events(masters, redis, args.chaos, args.every) if args.chaos else None
        rss = lambda: round(max(memory_mb(p)["rss"] for m in masters for p in worker_pids(m.pid)))  # noqa: E731
        before = rss()
        result = soak.run(args.seconds, args.clients, chaos)
        result["worker_rss_mb"] = {"before": before, "after": rss()}  # the largest worker's
    print(json.dumps(result, indent=1, ensure_ascii=False))
    counts = result["counts"]
    sys.exit(1 if counts.get("wrong") or (counts.get("lost") and "kill_worker" not in args.chaos) else 0)


if __name__ == "__main__":
    main()
