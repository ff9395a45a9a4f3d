"""glibc malloc knobs that bound a worker's resident memory (no-ops where libc is not glibc).

- Each thread that allocates gets its own malloc arena, up to 8 per core; a gthread worker's
  threads each touch torch buffers, so arenas multiply freed-but-kept memory (measured:
  gthread workers 542 MB RSS vs 463 MB for sync, docs/benchmarks.md).
- Loading checkpoints frees large temporaries (fp32 copies before quantising, safetensors
  buffers) that glibc keeps mapped; malloc_trim returns them to the OS once loading is done.
"""
import ctypes
import ctypes.util

M_ARENA_MAX = -8


def _glibc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:
        return None


def limit_malloc_arenas(n: int) -> bool:
    libc = _glibc()
    return bool(libc and libc.mallopt(M_ARENA_MAX, n))


def trim_heap() -> bool:
    libc = _glibc()
    return bool(libc and libc.malloc_trim(0))
