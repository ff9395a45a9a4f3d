"""Cross-request batching inside one worker: concurrent misses share one forward pass.

A gthread worker serves several requests at once, and a batched forward pass costs far less
per item than single ones (docs/benchmarks.md: 1.1 ms for one name, 0.18 ms per name in a
batch). The first request to arrive runs the model for itself and everything queued behind it;
there is no timer, so a request that arrives alone never waits. While one batch runs (torch
releases the GIL), newcomers queue; when it finishes, the oldest waiter leads the next batch.
"""
import threading


class _Job:
    __slots__ = ("items", "result", "error", "wake", "lead")

    def __init__(self, items: list):
        self.items, self.result, self.error = items, None, None
        self.wake, self.lead = threading.Event(), False


class MicroBatcher:
    """Wraps fn(list) -> list (one output per input, in order) so that concurrent calls are merged."""

    def __init__(self, fn, max_items: int = 1024):
        self.fn, self.max_items = fn, max_items
        self._lock = threading.Lock()
        self._queue: list[_Job] = []
        self._busy = False

    def __call__(self, items: list) -> list:
        job = _Job(list(items))
        with self._lock:
            self._queue.append(job)
            job.lead = not self._busy
            self._busy = True
        if not job.lead:
            job.wake.wait()
        if job.lead:  # set on arrival, or by the previous leader when it handed over
            self._run_one_batch()
        if job.error is not None:
            raise job.error
        return job.result

    def _run_one_batch(self):
        with self._lock:
            batch, size = [], 0
            while self._queue and (not batch or size + len(self._queue[0].items) <= self.max_items):
                batch.append(self._queue.pop(0))
                size += len(batch[-1].items)
        try:
            out = self.fn([x for job in batch for x in job.items])
            start = 0
            for job in batch:
                job.result, start = out[start : start + len(job.items)], start + len(job.items)
        except Exception as e:  # every request in the batch gets the error, none hangs
            for job in batch:
                job.error = e
        with self._lock:
            if self._queue:  # hand over: the oldest waiter runs the next batch
                self._queue[0].lead = True
                self._queue[0].wake.set()
            else:
                self._busy = False
        for job in batch[1:]:  # the waiters served by this batch (batch[0] is this leader's own job)
            job.wake.set()
