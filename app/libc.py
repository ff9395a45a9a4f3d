"""glibc malloc knobs that bound a worker's resident memory (no-ops where libc is not glibc).

- Each thread that allocates gets its own malloc arena, up to 8 per core; a gthread worker's
  threads each touch torch buffers, so arenas multiply freed-but-kept memory (measured:
  gthread workers 542 MB RSS vs 463 MB for sync, docs/benchmarks.md).
- glibc's mmap threshold is dynamic: once a large mmap'd block is freed, the threshold rises to its
  size (up to 32 MB), so later large blocks (a batch's activation tensors) come from the arenas, where
  they stay resident after free. A fixed threshold keeps serving large tensors mmap'd, returned to
  the OS on free (bench/memory_growth.py, 4 threads of batch-256 forwards: RSS grew by 162-168 MB,
  with a 1 MB threshold by 25 MB, at about 20 % fewer names/s from the fresh pages; docs/benchmarks.md).
- Loading checkpoints frees large temporaries (fp32 copies before quantising, safetensors
  buffers) that glibc keeps mapped; malloc_trim returns them to the OS once loading is done,
  and again after every forward pass of MALLOC_TRIM_AFTER_ITEMS or more items (app/registry.py):
  the arenas' freed middle-sized buffers otherwise stay resident (HTTP worker RSS after all
  benchmark scenarios 402-419 MB without, 381-384 with; docs/benchmarks.md).
"""
import ctypes
import ctypes.util
import functools
import re
from pathlib import Path

M_ARENA_MAX = -8
M_MMAP_THRESHOLD = -3


@functools.cache  # find_library runs `ldconfig -p` in a subprocess: once per process, not per trim
def _glibc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:
        return None


def limit_malloc_arenas(n: int) -> bool:
    libc = _glibc()
    return bool(libc and libc.mallopt(M_ARENA_MAX, n))


def fix_mmap_threshold(n_bytes: int) -> bool:
    """Blocks of at least n_bytes are mmap'd, and the threshold stops adapting (glibc mallopt(3))."""
    libc = _glibc()
    return bool(libc and libc.mallopt(M_MMAP_THRESHOLD, n_bytes))


def trim_heap() -> bool:
    libc = _glibc()
    return bool(libc and libc.malloc_trim(0))


def rss_mb() -> float:
    """This process's resident memory (VmRSS), what the knobs above bound."""
    return int(re.search(r"VmRSS:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024
