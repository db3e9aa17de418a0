"""A freed big block goes back to the OS even after glibc would have raised its threshold."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import platform
import subprocess
import sys

import pytest

from smsradar.heap import collect_in_full_every

# In a fresh interpreter: free one 4 MiB block (glibc then raises its mmap threshold to
# 4 MiB), then ask for 3 MiB and print whether it was mapped (1) or taken from the heap (0).
PROBE = """
import ctypes, sys
from smsradar.heap import return_big_blocks_to_the_os

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
    ).split()]

libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.mallinfo2.restype = MallInfo2
if sys.argv[1] == "fixed":
    return_big_blocks_to_the_os()
libc.free(libc.malloc(4 << 20))
mapped = libc.mallinfo2().hblkhd
block = libc.malloc(3 << 20)
print(int(libc.mallinfo2().hblkhd - mapped >= 3 << 20))
libc.free(block)
"""


def mapped(mode: str) -> bool:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True
    )
    return result.stdout.strip() == "1"


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="a glibc setting")
def test_big_blocks_stay_mapped_once_the_threshold_is_fixed() -> None:
    assert not mapped("glibc default"), "the probe cannot tell: glibc mapped it anyway"
    assert mapped("fixed"), "a 3 MiB block came from the heap: the threshold moved"


# In a fresh interpreter: how many allocations pass before the young generation is collected.
GC_PROBE = """
import gc
from smsradar.heap import collect_garbage_less_often
collect_garbage_less_often()
collected, allocations = [], 0
gc.callbacks.append(lambda phase, info: collected.append(allocations) if phase == "start" else None)
kept = []
while not collected:
    kept.append([])
    allocations += 1
print(collected[0])
"""


def test_the_worker_collects_the_young_generation_less_often() -> None:
    result = subprocess.run(
        [sys.executable, "-c", GC_PROBE], capture_output=True, text=True, check=True
    )
    # CPython's default collects after 700 allocations; the worker's setting far later
    assert int(result.stdout) > 50_000


def test_collect_in_full_every_collects_the_oldest_generation_on_its_clock() -> None:
    full_collections: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 2:
            full_collections.append(1)

    async def ticks_until(collections: int, timeout_s: float) -> None:
        clock = asyncio.create_task(collect_in_full_every(interval_s=0.01))
        try:
            async with asyncio.timeout(timeout_s):
                while len(full_collections) < collections:
                    await asyncio.sleep(0.01)
        finally:
            clock.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await clock

    gc.callbacks.append(count)
    try:
        # a sleeping loop allocates next to nothing: the thresholds alone would not get there
        asyncio.run(ticks_until(collections=5, timeout_s=30.0))
    finally:
        gc.callbacks.remove(count)
