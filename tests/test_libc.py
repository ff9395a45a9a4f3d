"""The malloc knobs work on this (glibc) machine."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from app.libc import limit_malloc_arenas, rss_mb, trim_heap


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


# glibc malloc/free directly, as torch's CPU allocator does. A 16 MB block is mmap'd; freeing it
# raises glibc's dynamic threshold to 16 MB, so a 2 MB block is then carved from the heap, where it
# stays resident after free. Prints whether that 2 MB block is mmap'd (IS_MMAPPED bit of its chunk header).
AFTER_BIG_FREE = """
import ctypes, sys
sys.path.insert(0, {root!r})
from app.libc import fix_mmap_threshold
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
if {threshold}:
    assert fix_mmap_threshold({threshold})
libc.free(libc.malloc(16 << 20))
block = libc.malloc(2 << 20)
print(bool(ctypes.c_size_t.from_address(block - 8).value & 2))
"""


def two_mb_block_is_mmapped(threshold: int) -> bool:
    code = AFTER_BIG_FREE.format(root=str(ROOT), threshold=threshold)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "True"


def test_fixed_mmap_threshold_keeps_large_blocks_mmapped():
    assert not two_mb_block_is_mmapped(0)    # glibc default: heap memory, kept resident after free
    assert two_mb_block_is_mmapped(1 << 20)  # fixed 1 MB threshold: mmap'd, returned to the OS on free


def test_registry_trims_the_heap_after_large_forward_passes_only(monkeypatch):
    from app import registry as registry_module
    from app.config import DEFAULTS
    trims = []
    monkeypatch.setattr(registry_module, "trim_heap", lambda: trims.append(1) or True)
    config = {**DEFAULTS, "NAME_MODELS": "rnn", "ENTITY_REVIEW": False, "MALLOC_TRIM_AFTER_ITEMS": 64}
    reg = registry_module.ModelRegistry(config).load()
    reg.infer("names-rnn", ["smith"] * 63)
    assert trims == []
    reg.infer("names-rnn", ["smith"] * 64)
    assert trims == [1]
    reg = registry_module.ModelRegistry({**config, "MALLOC_TRIM_AFTER_ITEMS": 0}).load()
    reg.infer("names-rnn", ["smith"] * 500)
    assert trims == [1]
