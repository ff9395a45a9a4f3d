"""Admission of heavy model work in one worker, so probes and light requests always find a thread.

A gthread worker has THREADS threads. Without a limit, a few clients sending the largest entity batches
(1,000 texts of 62 characters, ~6 s of CPU each) fill every thread of both workers: /health then waited
behind them and probes took over 5 s (docs/benchmarks.md, "Session 15"), the kind of stall that gets a
healthy pod killed (field notes); eight clients sending 1,000 names of 32 characters held probes at up to
2 s. So a worker admits at most `admitted` heavy requests at once (default THREADS - 1), runs their
forward passes one at a time (the workers already use every core, and one at a time holds one batch's
memory instead of several), and answers the rest 503 `overloaded` with Retry-After at once instead of
queueing them for tens of seconds. Light calls, such as any single text or name or a batch of 256 short
names, never wait here.
"""
import contextlib
import threading

from app.errors import ApiError


class Overloaded(ApiError):
    status, code = 503, "overloaded"
    retry_after = 1  # seconds; a heavy call takes seconds, and a retry may reach the other worker


class HeavyWorkGate:
    """Two steps for a call whose `cost` (its work as a share of a heavy request's, app/registry.py) reaches 1:
    `with gate.admit(cost):` around the whole request, right after parsing, so a request that will be
    shed costs no more than its parse (at most `admitted` in this process, else Overloaded), and
    `with gate.run(cost):` around its forward pass, one at a time. Light work passes both at once."""

    def __init__(self, admitted: int, on_shed=None):
        self.admitted, self.on_shed = max(1, admitted), on_shed
        self._count = 0
        self._count_lock = threading.Lock()
        self._run = threading.Lock()

    @staticmethod
    def is_heavy(cost: float) -> bool:
        return cost >= 1

    def admit(self, cost: float):
        return self._admitted() if self.is_heavy(cost) else contextlib.nullcontext()

    def run(self, cost: float):
        return self._run if self.is_heavy(cost) else contextlib.nullcontext()

    @contextlib.contextmanager
    def _admitted(self):
        with self._count_lock:
            full = self._count >= self.admitted
            if not full:
                self._count += 1
        if full:
            if self.on_shed:
                self.on_shed()
            raise Overloaded(f"this worker is busy with {self.admitted} large batch(es); "
                             f"retry after {Overloaded.retry_after} s or send smaller batches")
        try:
            yield
        finally:
            with self._count_lock:
                self._count -= 1
