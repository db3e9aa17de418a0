"""``kill -9`` of each process under simulator load, then exact accounting through the store.

Every test runs the whole system (receiver, worker, sink) on a broker under test, kills
one process mid-stream, restarts it, and ends with ``tests.support.accounting``: every 202
in ``status_events`` exactly once, every rejection dead-lettered, the store equal to the
simulation's ground truth. Worker and sink (Kafka clients) crash on every broker under
test; the receiver and the compactor on the first one (``ON_FIRST_BROKER``).
"""

from __future__ import annotations

import signal
import time

import pytest

from tests.conftest import ON_FIRST_BROKER, ReceiverFactory, RunningReceiver, WorkerFactory
from tests.faults.load import (
    kill_mid_stream,
    segments_dir,
    settle_and_account,
    traffic,
)
from tests.support.brokers import BrokerUnderTest
from tests.support.processes import http_ok, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@ON_FIRST_BROKER
def test_kill_9_of_the_receiver(
    receiver: RunningReceiver,
    broker: BrokerUnderTest,
    start_receiver: ReceiverFactory,
    start_worker: WorkerFactory,
    start_sink: WorkerFactory,
) -> None:
    start_worker(broker.bootstrap)
    start_sink(broker.bootstrap)
    settings = receiver.settings
    with traffic(receiver.url, seed=81) as running:
        # mid-request: some are published but never answered
        kill_mid_stream(receiver.process, settings, running)
        time.sleep(1)  # the gateways' retries find the port closed
        again = start_receiver(broker.bootstrap, port=settings.receiver_port)
        wait_for(lambda: http_ok(again.route("/readyz")), 30, "restarted receiver ready")
        books = settle_and_account(settings, running)
    assert receiver.process.process.returncode == -signal.SIGKILL
    assert books.retries > 0, "no post met the dead receiver; the test did not test that"


def test_kill_9_of_the_worker(
    receiver: RunningReceiver,
    broker: BrokerUnderTest,
    start_worker: WorkerFactory,
    start_sink: WorkerFactory,
) -> None:
    worker = start_worker(broker.bootstrap)
    start_sink(broker.bootstrap)
    settings = receiver.settings
    with traffic(receiver.url, seed=82) as running:
        kill_mid_stream(worker, settings, running)
        start_worker(broker.bootstrap)
        settle_and_account(settings, running)
    assert worker.process.returncode == -signal.SIGKILL


def test_kill_9_of_the_sink_mid_write(
    receiver: RunningReceiver,
    broker: BrokerUnderTest,
    start_worker: WorkerFactory,
    start_sink: WorkerFactory,
) -> None:
    start_worker(broker.bootstrap)
    sink = start_sink(broker.bootstrap, SMSRADAR_SINK_FLUSH_INTERVAL_S="0.1")
    settings = receiver.settings
    with traffic(receiver.url, seed=83) as running:
        kill_mid_stream(sink, settings, running, into_stream_s=3)  # well into the writes
        start_sink(broker.bootstrap)
        settle_and_account(settings, running)
    assert sink.process.returncode == -signal.SIGKILL


@ON_FIRST_BROKER
def test_kill_9_of_the_compactor_mid_merge(
    receiver: RunningReceiver,
    broker: BrokerUnderTest,
    start_worker: WorkerFactory,
    start_sink: WorkerFactory,
) -> None:
    """The compactor is a thread of the sink: killing the sink while a merged segment is
    half-written kills it mid-merge."""
    start_worker(broker.bootstrap)
    # Compacting all the time: every pass rewrites bases, so a kill lands mid-merge often.
    compacting = {
        "SMSRADAR_COMPACT_INTERVAL_S": "0.05",
        "SMSRADAR_COMPACT_REBASE_MIN_ROWS": "1",
        "SMSRADAR_SINK_FLUSH_INTERVAL_S": "0.1",
    }
    sink = start_sink(broker.bootstrap, **compacting)
    settings = receiver.settings
    half_written = []
    with traffic(receiver.url, seed=84) as running:
        for _ in range(3):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not any(segments_dir(settings).glob("*/.*.tmp")):
                time.sleep(0.005)
            sink.process.kill()
            sink.process.wait()
            half_written.append(len(list(segments_dir(settings).glob("*/.*.tmp"))))
            sink = start_sink(broker.bootstrap, **compacting)
            time.sleep(2)
        settle_and_account(settings, running)
    print(f"half-written segments left by each kill: {half_written}")
    assert any(half_written), "no kill landed mid-write; the test did not test that"
    assert not any(segments_dir(settings).glob("*/.*.tmp")), "leftovers not cleaned up"
