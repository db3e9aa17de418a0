"""Readers in other processes query every relation while the pipeline and compactor write."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from smsradar import simulator
from tests.conftest import ON_FIRST_BROKER, RunningReceiver, WorkerFactory
from tests.support.brokers import BrokerUnderTest
from tests.support.facts import actual_messages, expected_messages
from tests.support.store import store_as_facts, wait_for_store

pytestmark = [pytest.mark.integration, pytest.mark.slow]

READ_SECONDS = 60


@ON_FIRST_BROKER
def test_three_readers_never_fail_shrink_or_see_duplicates(
    receiver: RunningReceiver,
    broker: BrokerUnderTest,
    start_worker: WorkerFactory,
    start_sink: WorkerFactory,
) -> None:
    start_worker(broker.bootstrap)
    # Compact hard, so merges and base rewrites happen under the readers' feet.
    sink = start_sink(
        broker.bootstrap,
        SMSRADAR_COMPACT_INTERVAL_S="0.5",
        SMSRADAR_COMPACT_REBASE_MIN_ROWS="300",
    )
    settings = receiver.settings
    catalog = settings.data_dir / "analytics" / "analytics.duckdb"
    sink.wait_until(catalog.exists, 30, "the sink to create the catalog")
    readers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.reader_loop",
                str(settings.data_dir),
                str(READ_SECONDS),
                mode,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "SMSRADAR_LOG_LEVEL": "WARNING"},
        )
        for mode in ("snapshot", "snapshot", "catalog")
    ]
    try:
        # ~55 s of traffic at 20 webhooks/s while the readers run
        traffic = simulator.TrafficConfig(seed=51, rate=10, messages=300)
        posting = simulator.PostConfig(url=receiver.url, rate=20, concurrency=4)
        with ThreadPoolExecutor(1) as pool:
            result = pool.submit(
                lambda: asyncio.run(simulator.run_async(traffic, posting))
            ).result()
        reports = [
            json.loads(reader.communicate(timeout=READ_SECONDS + 60)[0]) for reader in readers
        ]
    finally:
        for reader in readers:
            if reader.poll() is None:
                reader.kill()
                reader.wait()
    for report in reports:
        print(
            f"reader {report['mode']}: {report['queries']} queries, errors {len(report['errors'])},"
            f" decreases {len(report['decreases'])}, duplicates {len(report['duplicates'])},"
            f" last counts {report['last_counts']}"
        )
    for report in reports:
        assert report["queries"] > 50, report
        assert report["errors"] == [], report["errors"][:3]
        assert report["decreases"] == [], report["decreases"][:3]
        assert report["duplicates"] == [], report["duplicates"][:3]
    segments = list((settings.data_dir / "analytics" / "segments").glob("*/p*-merge-*.parquet"))
    segments += list((settings.data_dir / "analytics" / "segments").glob("*/p*-base-*.parquet"))
    assert segments, "the compactor never ran during the test"
    wait_for_store(settings, result.messages)
    assert actual_messages(store_as_facts(settings)) == expected_messages(result.messages)
