"""The worker's process keeps its start-up heap out of the full collections its clock runs
(``collect_old_garbage_periodically``), and collects young objects less often."""

from __future__ import annotations

from pathlib import Path

from smsradar.heap import GC_THRESHOLDS
from tests.support.heap import heap_at_serving

# Where Faust's worker would start: the broker is never asked (no topics are created).
WORKER_PROBE = """
import sys
import faust
import streams.worker
from smsradar.settings import Settings

async def no_topics(settings):
    pass

streams.worker.create_topics = no_topics
faust.Worker.execute_from_commandline = report_gc
streams.worker.run_worker(Settings(_env_file=None, data_dir=sys.argv[1]))
"""


def test_run_worker_freezes_the_start_up_heap_and_collects_less_often(tmp_path: Path) -> None:
    heap = heap_at_serving(WORKER_PROBE, tmp_path)
    assert heap.thresholds == GC_THRESHOLDS
    # Faust, aiokafka, the models and the built app: tens of thousands of objects
    assert heap.frozen > 50_000
