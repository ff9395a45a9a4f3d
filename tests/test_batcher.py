"""Cross-request batching: concurrent calls share one forward pass, each gets its own slice back."""
import threading

import pytest

from app.batcher import MicroBatcher
from tests.helpers import wait_until


def queue_behind_first_batch(batcher, first, others, first_running, release):
    """Start `first`, wait until its forward pass is running, start `others`, wait until all of
    them are queued behind it, then let the first batch finish and join every thread."""
    first.start()
    wait_until(first_running, every=0.001)
    for t in others:
        t.start()
    wait_until(lambda: len(batcher._queue) == len(others), every=0.001)
    release.set()
    for t in [first, *others]:
        t.join(5)
        assert not t.is_alive()


def test_a_lone_call_runs_at_once():
    calls = []
    batcher = MicroBatcher(lambda xs: calls.append(list(xs)) or [x * 2 for x in xs])
    assert batcher([1, 2, 3]) == [2, 4, 6] and calls == [[1, 2, 3]]


def test_calls_queued_behind_a_running_batch_share_the_next_one():
    release, calls = threading.Event(), []

    def fn(xs):
        calls.append(list(xs))
        if len(calls) == 1:
            release.wait(5)  # hold the first batch until the others have queued
        return [f"out-{x}" for x in xs]

    batcher = MicroBatcher(fn)
    results = {}

    def call(i, items):
        results[i] = batcher(items)

    first = threading.Thread(target=call, args=(0, ["a"]))
    others = [threading.Thread(target=call, args=(i, [f"b{i}", f"c{i}"])) for i in range(1, 6)]
    queue_behind_first_batch(batcher, first, others, lambda: len(calls) == 1, release)
    assert len(calls) == 2 and len(calls[1]) == 10  # five requests, one forward pass
    assert results[0] == ["out-a"]
    assert all(results[i] == [f"out-b{i}", f"out-c{i}"] for i in range(1, 6))


def test_max_items_splits_the_queue():
    release, calls = threading.Event(), []

    def fn(xs):
        calls.append(len(xs))
        if len(calls) == 1:
            release.wait(5)
        return xs

    batcher = MicroBatcher(fn, max_items=4)
    threads = [threading.Thread(target=batcher, args=([i, i],)) for i in range(5)]
    queue_behind_first_batch(batcher, threads[0], threads[1:], lambda: len(calls) == 1, release)
    assert calls == [2, 4, 4]


def test_an_error_reaches_every_caller_in_the_batch_and_nothing_hangs():
    release = threading.Event()
    started = threading.Event()

    def fn(xs):
        if not started.is_set():
            started.set()
            release.wait(5)
            return xs
        raise RuntimeError("forward failed")

    batcher = MicroBatcher(fn)
    errors = []

    def call(items):
        try:
            batcher(items)
        except RuntimeError as e:
            errors.append(str(e))

    first = threading.Thread(target=call, args=([0],))
    others = [threading.Thread(target=call, args=([i],)) for i in range(1, 4)]
    queue_behind_first_batch(batcher, first, others, started.is_set, release)
    assert errors == ["forward failed"] * 3
    with pytest.raises(RuntimeError):  # not stuck busy: the next call runs (and fails) at once
        batcher([7])


def test_concurrent_requests_through_the_app_match_single_answers():
    """Uncached names posted from many threads at once get exactly the answer each gets alone."""
    from app import create_app
    client = create_app({"CACHE_ENABLED": False, "NAME_MODELS": "gru", "ENTITY_REVIEW": False,
                         "CROSS_REQUEST_BATCHING": True}).test_client()
    names = [f"Nakamura{i}" for i in range(8)] + [f"Ivanov{i}" for i in range(8)] + ["Ng", "Schwarzenegger"]
    alone = {n: client.post("/classify", json={"name": n, "top_k": 18}).get_json()["predictions"] for n in names}
    together = {}

    def post(n):
        together[n] = client.post("/classify", json={"name": n, "top_k": 18}).get_json()["predictions"]

    workers = [threading.Thread(target=post, args=(n,)) for n in names]
    for t in workers:
        t.start()
    for t in workers:
        t.join(30)
    assert together == alone
