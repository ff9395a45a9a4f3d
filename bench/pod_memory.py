"""What one instance (gunicorn master + workers, default settings) holds in memory: the figure a container's
memory request and limit are sized from (deploy/k8s/service.yaml).

    .venv/bin/python bench/pod_memory.py [--rounds 6] [--every N] [--small-bodies 2100]

Starts redis-server and gunicorn on free loopback ports, then sends --rounds rounds of the largest batches
the API takes (1,000 names of ~34 characters with all 18 languages; 1,000 entity texts of 62 characters), and
prints each process's RSS and the sum of PSS (shared pages split between the processes that map them, which
is what a cgroup counts once) after start and after the batches. Redis is not counted: in Kubernetes it runs
elsewhere. With --small-bodies N it then sends N different bodies of under 512 bytes asking for large answers
(40 names with all 18 languages, ~63 KB), each twice, as remembered responses are made of (app/cache.py).
"""
import argparse
import json
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.http_bench import gunicorn_service, memory_mb  # noqa: E402
from tests.helpers import worker_pids  # noqa: E402

CHARS = "手内肌萎缩病毒性感冒高血压糖尿综合征急慢支气管炎肺结核胃溃疡阑尾脑梗塞肾衰竭" * 2


def post(base: str, path: str, body: dict) -> None:
    request = urllib.request.Request(base + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=120).read()


def memory(pids: list[int]) -> tuple[list[float], float]:
    """RSS of each process and the sum of their PSS, in MB."""
    each = [memory_mb(pid) for pid in pids]
    return [m["rss"] for m in each], sum(m["pss"] for m in each)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--every", type=int, default=0, help="also print after every N rounds (does it level off?)")
    ap.add_argument("--small-bodies", type=int, default=0, help="then N small bodies with large answers, each twice")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, gunicorn_service({}, Path(tmp)) as (base, _, proc, _):
        pids = [proc.pid, *sorted(worker_pids(proc.pid))]
        rows = [("after start", *memory(pids))]
        for r in range(args.rounds):  # fresh inputs every round: cache misses, full forward passes
            post(base, "/classify", {"names": [f"Abramovich{r}{i:03d}" + "x" * 20 for i in range(1000)], "top_k": 18})
            post(base, "/review-entity", {"texts": [CHARS[i % 20 : i % 20 + 59] + f"{r:03d}" for i in range(1000)]})
            if args.every and (r + 1) % args.every == 0 and r + 1 < args.rounds:
                rows.append((f"after {r + 1} rounds", *memory(pids)))
        rows.append((f"after {args.rounds} rounds", *memory(pids)))
        if args.small_bodies:
            for i in range(args.small_bodies):
                body = {"names": [f"N{i}x{k}" for k in range(40)], "top_k": 18}
                post(base, "/classify", body)  # a miss
                post(base, "/classify", body)  # every item a hit: the answer may be remembered
            rows.append((f"then {args.small_bodies} small bodies, twice each", *memory(pids)))
    print("| when | RSS MB: master / workers | PSS MB, all processes |")
    print("|---|---|---|")
    for when, rss, pss in rows:
        print(f"| {when} | {' / '.join(f'{x:.0f}' for x in rss)} | {pss:.0f} |")


if __name__ == "__main__":
    main()
