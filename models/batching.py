"""Length-sorted batching: batches of similar lengths (little padding), shuffled for training or in order for inference."""
import random


def length_buckets(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(chunks)
    return chunks


def length_sorted_chunks(lengths: list[int], max_items: int = 0, max_tokens: int = 0) -> list[list[int]]:
    """Indices in ascending length, cut into passes of at most `max_items` texts and at most `max_tokens` padded
    characters (items x longest; 0 = no limit): little padding, and bounded memory per pass."""
    chunks: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        last = chunks[-1] if chunks else None
        if (last is None or (max_items and len(last) >= max_items)
                or (max_tokens and (len(last) + 1) * lengths[i] > max_tokens)):
            chunks.append([])
        chunks[-1].append(i)
    return chunks
