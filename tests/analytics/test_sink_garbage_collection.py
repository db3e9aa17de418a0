"""The sink's process keeps its start-up heap out of its full collections."""

from __future__ import annotations

from pathlib import Path

from tests.support.heap import heap_at_serving

# Where the sink would start consuming: with its store locked and its compactor running.
SINK_PROBE = """
import sys
import analytics.sink
from smsradar.settings import Settings

async def report_instead_of_running(sink):
    report_gc()

analytics.sink._run_until_signalled = report_instead_of_running
analytics.sink.run_sink(Settings(_env_file=None, data_dir=sys.argv[1]))
"""


def test_run_sink_freezes_the_start_up_heap(tmp_path: Path) -> None:
    heap = heap_at_serving(SINK_PROBE, tmp_path)
    # pyarrow, DuckDB's module, aiokafka and the models: tens of thousands of objects
    assert heap.frozen > 50_000
