"""The malloc knobs work on this (glibc) machine."""
import re
from pathlib import Path

from app.libc import limit_malloc_arenas, trim_heap


def rss_mb() -> float:
    return int(re.search(r"VmRSS:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024


def test_limit_malloc_arenas_is_accepted():
    assert limit_malloc_arenas(2) is True


def test_trim_heap_returns_freed_memory_to_the_os():
    blocks = [bytearray(512) for _ in range(200_000)]  # ~110 MB of small heap chunks (not mmap'd)
    keep = blocks[-1]  # pins the top of the heap, so only malloc_trim (not free) can release the rest
    del blocks
    before = rss_mb()
    assert trim_heap() is True
    assert before - rss_mb() > 30
    del keep
