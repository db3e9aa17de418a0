"""The receiver's process keeps full garbage collections off its requests' path: what
start-up made is frozen, young collections are rarer, and a full one runs on a clock."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path
from typing import Any

from receiver.app import kafka_app
from smsradar.broker import free_port
from smsradar.heap import GC_THRESHOLDS, collect_in_full_every
from smsradar.settings import Settings
from tests.support.heap import heap_at_serving

SERVE_PROBE = """
import sys
import uvicorn
from receiver.server import serve
from smsradar.settings import Settings

uvicorn.Server.run = report_gc
serve(Settings(_env_file=None, data_dir=sys.argv[1]))
"""


def test_serve_freezes_the_start_up_heap_and_collects_less_often(tmp_path: Path) -> None:
    heap = heap_at_serving(SERVE_PROBE, tmp_path)
    assert heap.thresholds == GC_THRESHOLDS
    # the imported libraries and the built app: hundreds of thousands of objects
    assert heap.frozen > 50_000


def test_the_apps_lifespan_runs_full_collections_until_it_stops(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        # no broker there: the publisher goes on trying in the background, as in production
        kafka_bootstrap=f"127.0.0.1:{free_port()}",
        publish_timeout_s=0.2,
    )
    app = kafka_app(settings)

    async def clock_while_serving() -> tuple[str, bool, bool]:
        async with app.router.lifespan_context(app):
            await asyncio.sleep(0.1)  # serving for a while
            clocks = [t for t in asyncio.all_tasks() if t.get_name() == "full garbage collections"]
            assert len(clocks) == 1
            clock = clocks[0]
            running = not clock.done()
        coroutine: Any = clock.get_coro()
        return coroutine.__qualname__, running, clock.cancelled()

    runs, running, cancelled_at_stop = asyncio.run(clock_while_serving())
    assert runs == collect_in_full_every.__qualname__
    assert running
    assert cancelled_at_stop
    assert gc.get_threshold() != GC_THRESHOLDS  # the test process's own are left alone
