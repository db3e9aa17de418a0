"""``kill -9`` of the sink while it writes and while it compacts: the store ends exact."""

from __future__ import annotations

import asyncio
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from smsradar import simulator
from tests.conftest import RunningReceiver, WorkerFactory
from tests.support.brokers import BrokerUnderTest
from tests.support.facts import actual_messages, expected_messages, expected_windows
from tests.support.store import sql, store_as_facts, store_windows, wait_for_store

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _segments_dir(receiver: RunningReceiver) -> Path:
    return receiver.settings.data_dir / "analytics" / "segments"


def _assert_store_equals_truth(
    receiver: RunningReceiver, result: simulator.SimulationResult
) -> None:
    settings = receiver.settings
    wait_for_store(settings, result.messages)
    assert actual_messages(store_as_facts(settings)) == expected_messages(result.messages)
    assert store_windows(settings) == expected_windows(result.messages, settings.failure_window_s)
    (counts,) = sql(
        settings,
        "SELECT count(*) AS n, count(DISTINCT event_id) AS keys FROM status_events",
    )
    assert counts["n"] == counts["keys"]
    assert counts["n"] == sum(m.events for m in result.messages) + len(result.inbound)


def _traffic(
    receiver: RunningReceiver, seed: int
) -> tuple[simulator.TrafficConfig, simulator.PostConfig]:
    traffic = simulator.TrafficConfig(seed=seed, rate=10, messages=500, invalid_rate=0.01)
    return traffic, simulator.PostConfig(url=receiver.url, rate=100, concurrency=8)  # ~20 s


def test_kill_9_of_the_sink_mid_write(
    receiver: RunningReceiver,
    broker: BrokerUnderTest,
    start_worker: WorkerFactory,
    start_sink: WorkerFactory,
) -> None:
    start_worker(broker.bootstrap)
    first = start_sink(broker.bootstrap, SMSRADAR_SINK_FLUSH_INTERVAL_S="0.1")
    traffic, posting = _traffic(receiver, seed=61)
    with ThreadPoolExecutor(1) as pool:
        simulation = pool.submit(lambda: asyncio.run(simulator.run_async(traffic, posting)))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(
            _segments_dir(receiver).glob("*/p*.parquet")
        ):
            time.sleep(0.1)
        time.sleep(3)  # well into the stream of writes
        assert not simulation.done(), "traffic ended before the kill; make it longer"
        first.process.kill()
        first.process.wait()
        result = simulation.result()
    assert first.process.returncode == -signal.SIGKILL
    start_sink(broker.bootstrap)
    _assert_store_equals_truth(receiver, result)


def test_kill_9_of_the_sink_mid_compaction(
    receiver: RunningReceiver,
    broker: BrokerUnderTest,
    start_worker: WorkerFactory,
    start_sink: WorkerFactory,
) -> None:
    start_worker(broker.bootstrap)
    # Compacting all the time: every pass rewrites bases, so a kill lands mid-merge often.
    compacting = {
        "SMSRADAR_COMPACT_INTERVAL_S": "0.05",
        "SMSRADAR_COMPACT_REBASE_MIN_ROWS": "1",
        "SMSRADAR_SINK_FLUSH_INTERVAL_S": "0.1",
    }
    sink = start_sink(broker.bootstrap, **compacting)
    traffic, posting = _traffic(receiver, seed=62)
    half_written = []
    with ThreadPoolExecutor(1) as pool:
        simulation = pool.submit(lambda: asyncio.run(simulator.run_async(traffic, posting)))
        for _ in range(3):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not list(
                _segments_dir(receiver).glob("*/.*.tmp")
            ):
                time.sleep(0.005)
            sink.process.kill()
            sink.process.wait()
            half_written.append(len(list(_segments_dir(receiver).glob("*/.*.tmp"))))
            sink = start_sink(broker.bootstrap, **compacting)
            time.sleep(2)
        result = simulation.result()
    print(f"half-written segments left by each kill: {half_written}")
    assert any(half_written), "no kill landed mid-write; the test did not test that"
    _assert_store_equals_truth(receiver, result)
    assert not list(_segments_dir(receiver).glob("*/.*.tmp")), "leftovers not cleaned up"
