"""What a process's start-up leaves its garbage collector with, read in a fresh interpreter:
the test process has long imported everything, so its own heap says nothing."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# Defined first in every probe: the probe puts it where the process would start serving.
REPORT = """
import gc

def report_gc(*args, **kwargs):
    print(*gc.get_threshold(), gc.get_freeze_count())
"""


@dataclass(frozen=True)
class StartUpHeap:
    thresholds: tuple[int, int, int]
    frozen: int  # objects gc.freeze() moved out of every later collection


def heap_at_serving(probe: str, data_dir: Path) -> StartUpHeap:
    """Run ``probe`` (after REPORT; ``sys.argv[1]`` is ``data_dir``) and read its report."""
    result = subprocess.run(
        [sys.executable, "-c", REPORT + probe, str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    young, middle, old, frozen = (int(word) for word in result.stdout.split())
    return StartUpHeap((young, middle, old), frozen)
