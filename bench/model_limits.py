"""In-process model limits: single-item latency and batched throughput (medians of repeated runs).

    .venv/bin/python bench/model_limits.py [--threads 1] [--repeat 30]

Prints a markdown table. These are the raw model limits the HTTP benchmarks compare against.
"""
import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import torch  # noqa: E402

from models.entity_reviewer import EntityReviewer  # noqa: E402
from models.name_predictor import NamePredictor  # noqa: E402
from models.names_data import load_corpus  # noqa: E402
from models.paths import CHECKPOINTS  # noqa: E402


def median_ms(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rng = random.Random(0)
    names = [n for n, _ in load_corpus().rows]
    batch_1000 = rng.sample(names, 1000)
    rows = []
    runtimes = {"torch": {"runtime": "torch"},  # NAME_RUNTIME=torch, ONNX_MAX_BATCH=0
                "torch, ONNX Runtime up to 8": {"runtime": "torch", "onnx_max_batch": 8},  # NAME_RUNTIME=torch
                "ONNX Runtime (served)": {"runtime": "onnx"}}  # NAME_RUNTIME=onnx, the default
    for arch in ("gru", "lstm", "rnn"):
        for label, kwargs in runtimes.items():
            p = NamePredictor.load(CHECKPOINTS / f"names-{arch}", threads=args.threads, **kwargs)
            single = median_ms(lambda: p.probabilities([rng.choice(names)]), args.repeat * 10)
            eight = median_ms(lambda: p.probabilities(rng.sample(names, 8)), args.repeat * 5)
            batch = median_ms(lambda: p.probabilities(batch_1000), args.repeat)
            rows.append((f"names-{arch}, {label}", f"{single:.3f}", f"{eight:.3f}", f"{batch:.1f}",
                         f"{1000 / batch * 1000:,.0f} names/s"))
    texts = ["手内肌萎缩症", "慢性支气管炎", "急性胃肠炎", "糖尿病肾病"] * 64
    for runtime, int8 in (("torch", False), ("torch", True), ("onnx", False), ("onnx", True)):  # the last as served
        reviewer = EntityReviewer.load(CHECKPOINTS / "entity-encoder", CHECKPOINTS / "entity-rnn", int8=int8,
                                       runtime=runtime, threads=args.threads)
        single = median_ms(lambda: reviewer.scores(["手内肌萎缩症"]), args.repeat * 5)
        batch = median_ms(lambda: reviewer.scores(texts), args.repeat)
        rows.append((f"entity-review (6 chars), encoder {runtime} {'int8' if int8 else 'fp32'}", f"{single:.3f}", "",
                     f"{batch:.1f} (256)", f"{256 / batch * 1000:,.0f} entities/s"))
    print(f"torch threads: {args.threads}\n")
    print("| model | single item, median ms | batch of 8 names, median ms | batch (1000 names / 256 entities), median ms | throughput |")
    print("|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
