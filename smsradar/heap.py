"""Big freed blocks go back to the operating system, not into the C heap.

glibc serves a request of 128 KiB or more with its own mmap, but the first time such a block
is freed it raises that threshold (up to 32 MiB), and the trim threshold with it: from then
on big blocks come from the heap, and freed ones that are not at its top stay there as free
but resident memory. A long-running process that allocates and frees big blocks all the
time then creeps up in RSS for hours: RocksDB's memtable blocks (256 KiB, freed whole at
every flush) in the worker, DuckDB's and Arrow's buffers in the sink. The soak measured it:
the worker's heap held 3.7 -> 9.9 MiB free in 6 minutes. Fixing the threshold at its initial
value keeps those blocks mapped, so freeing them gives the memory back.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import platform

M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's initial value, now fixed


def return_big_blocks_to_the_os() -> None:
    """Fix glibc's mmap threshold for this process (a no-op on other C libraries)."""
    if platform.libc_ver()[0] != "glibc":
        return
    if not ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES):
        raise OSError("glibc refused mallopt(M_MMAP_THRESHOLD)")


# Allocations between young-generation collections (CPython's default: 700), and how many
# of those before each older generation is collected (defaults 10 and 10).
GC_THRESHOLDS = (100_000, 50, 1000)

# Between the full collections of a process at GC_THRESHOLDS (see collect_in_full_every).
FULL_COLLECTION_INTERVAL_S = 60.0


def collect_garbage_less_often() -> None:
    """Raise the garbage collector's thresholds for a process that allocates per record.

    The stream worker allocates several container objects per record (futures, events,
    dicts) that mostly die young without cycles; at CPython's default a young collection
    ran every 700 allocations, and the full ones walked the worker's whole heap. Measured in
    the pipeline bench: collections took 4.0 s of a 45 s run at the defaults and 0.2 s with
    these (before the worker's stages were fused); after, 2,850 -> 3,098 and 3,436 events/s.
    At these thresholds the oldest generation is never collected: a process that raises
    them also collects in full on a clock (the worker: ``streams.worker``; the receiver:
    ``collect_in_full_every``).
    """
    gc.set_threshold(*GC_THRESHOLDS)


def freeze_the_start_up_heap() -> None:
    """Keep every object alive now out of all later collections (``gc.freeze``).

    What a process imports and builds at start-up (libraries, models, validators, the app)
    lives as long as it does, and each full collection walked all of it: up to 52 ms in
    the receiver, 134 ms in the worker (its once-a-minute clock) and 94 ms in the sink,
    in a bench run. Frozen, a full collection walks only what was made since.
    """
    gc.freeze()


async def collect_in_full_every(interval_s: float = FULL_COLLECTION_INTERVAL_S) -> None:
    """A full collection every ``interval_s`` seconds, until cancelled.

    Bounds the cyclic garbage that reaches the oldest generation of a process whose
    thresholds (``collect_garbage_less_often``) never collect it, whatever its load.
    """
    while True:
        await asyncio.sleep(interval_s)
        gc.collect()
