"""Length-bucketed batching: batches of similar lengths (little padding), in random order."""
import random


def length_buckets(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(chunks)
    return chunks
