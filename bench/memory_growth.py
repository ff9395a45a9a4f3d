"""How much a worker's resident memory grows from serving batches, and what the malloc knobs do.

    .venv/bin/python bench/memory_growth.py [--mmap-threshold BYTES] [--arenas N] [--threads 4] [--rounds 20]

Loads every served model as a worker does, then runs --threads Python threads (a gthread
worker's request threads) of batch-256 name forwards plus small entity batches, and prints RSS
after loading, after the batches, and after malloc_trim, and the names/s the threads reached
(a threshold too low makes every large tensor a fresh mmap whose pages fault in again). The knobs are set first, as
deploy/gunicorn.conf.py's post_fork does; run it once per setting (glibc's state is per process).
"""
import argparse
import json
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mmap-threshold", type=int, default=0, help="bytes; 0 = glibc's dynamic default")
    ap.add_argument("--arenas", type=int, default=0, help="0 = glibc's default")
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    from app.libc import fix_mmap_threshold, limit_malloc_arenas, rss_mb, trim_heap
    if args.mmap_threshold:
        fix_mmap_threshold(args.mmap_threshold)
    if args.arenas:
        limit_malloc_arenas(args.arenas)
    import torch
    from models.entity_reviewer import EntityReviewer
    from models.name_predictor import NamePredictor
    from models.paths import CHECKPOINTS
    torch.set_num_threads(1)  # as TORCH_THREADS=1 in a worker
    names = {a: NamePredictor.load(CHECKPOINTS / f"names-{a}") for a in ("gru", "lstm", "rnn")}
    reviewer = EntityReviewer.load(CHECKPOINTS / "entity-encoder", CHECKPOINTS / "entity-rnn", int8=True, runtime="onnx")  # as served
    trim_heap()
    loaded = rss_mb()
    batch = [f"Name{i}ovich-Smith" for i in range(256)]

    def serve():
        for _ in range(args.rounds):
            for predictor in names.values():
                predictor.probabilities(batch)
            reviewer.scores(["手内肌萎缩症"] * 8)

    threads = [threading.Thread(target=serve) for _ in range(args.threads)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    after = rss_mb()
    trim_heap()
    print(json.dumps({"mmap_threshold": args.mmap_threshold, "arenas": args.arenas, "threads": args.threads,
                      "rss_loaded_mb": round(loaded), "rss_after_batches_mb": round(after),
                      "growth_mb": round(after - loaded), "rss_after_trim_mb": round(rss_mb()),
                      "names_per_s": round(args.threads * args.rounds * len(names) * len(batch) / seconds)}))


if __name__ == "__main__":
    main()
