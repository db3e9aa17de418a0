"""Simulator traffic in the background while a test breaks something, and its accounting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from smsradar import simulator
from smsradar.settings import Settings
from tests.support.accounting import Accounting, account, assert_exact
from tests.support.processes import ManagedProcess, wait_for

# Gateways retry for hours; the simulator retries long enough to ride out any fault here
# (a 20 s broker outage answers 503 for 20 s plus the publish timeout).
RETRY_ATTEMPTS, RETRY_MAX_BACKOFF_S = 60, 2.0


@contextmanager
def traffic(
    url: str, seed: int, messages: int = 500
) -> Iterator[Future[simulator.SimulationResult]]:
    """~2,000 webhooks (1% invalid) posted at 100/s, ~20 s: the fault lands mid-stream."""
    config = simulator.TrafficConfig(seed=seed, rate=10, messages=messages, invalid_rate=0.01)
    posting = simulator.PostConfig(
        url=url,
        rate=100,
        concurrency=8,
        max_attempts=RETRY_ATTEMPTS,
        max_backoff_s=RETRY_MAX_BACKOFF_S,
    )
    with ThreadPoolExecutor(1) as pool:
        yield pool.submit(lambda: asyncio.run(simulator.run_async(config, posting)))


def kill_mid_stream(
    process: ManagedProcess,
    settings: Settings,
    running: Future[simulator.SimulationResult],
    into_stream_s: float = 2.0,
) -> None:
    """SIGKILL ``process`` once the pipeline flows end to end, while traffic still runs."""
    wait_for(lambda: segments_written(settings), 60, "the first segment")
    time.sleep(into_stream_s)
    assert not running.done(), "traffic ended before the kill; make it longer"
    process.process.kill()
    process.process.wait()


def segments_written(settings: Settings) -> bool:
    """The sink has written at least one segment (the pipeline is flowing end to end)."""
    return any(segments_dir(settings).glob("*/p*.parquet"))


def segments_dir(settings: Settings) -> Path:
    return settings.data_dir / "analytics" / "segments"


def settle_and_account(
    settings: Settings, running: Future[simulator.SimulationResult]
) -> Accounting:
    """Wait for the traffic to end and the store to settle; print and check the books."""
    result = running.result()
    books = account(settings, result)
    print(books.line())
    assert_exact(books)
    return books
