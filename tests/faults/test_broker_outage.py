"""Apache Kafka stopped for 20 s under load and started again on the same ports and data.

Runs on Apache Kafka only: the embedded broker keeps its topics in memory, so a restart of
it is a new, empty cluster, not an outage. (SMSRADAR_TEST_BROKER=tansu deselects nothing
else; this test reports itself skipped, with that reason.)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BROKERS, ReceiverFactory, WorkerFactory
from tests.faults.load import segments_written, settle_and_account, traffic
from tests.support.apache_kafka import ApacheKafka, KafkaUnavailable
from tests.support.processes import http_ok, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OUTAGE_S = 20


@pytest.fixture
def kafka(tmp_path: Path) -> Iterator[ApacheKafka]:
    """A broker of this test's own: stopping the session's would break the tests after."""
    if "kafka" not in BROKERS:
        pytest.skip("the broker outage is tested on Apache Kafka (SMSRADAR_TEST_BROKER=tansu)")
    broker = ApacheKafka(workdir=tmp_path / "kafka")
    try:
        broker.start()
    except KafkaUnavailable as exc:
        pytest.fail(f"Apache Kafka could not be started: {exc}", pytrace=False)
    yield broker
    broker.stop()


def test_broker_stopped_for_20_s(
    kafka: ApacheKafka,
    start_receiver: ReceiverFactory,
    start_worker: WorkerFactory,
    start_sink: WorkerFactory,
) -> None:
    receiver = start_receiver(kafka.bootstrap)
    wait_for(lambda: http_ok(receiver.route("/readyz")), 30, "receiver ready")
    worker = start_worker(kafka.bootstrap)
    sink = start_sink(kafka.bootstrap)
    settings = receiver.settings
    with traffic(receiver.url, seed=86) as running:
        wait_for(lambda: segments_written(settings), 90, "the first segment")
        time.sleep(2)
        kafka.stop(keep_data=True)
        stopped_at = time.monotonic()
        time.sleep(OUTAGE_S)
        assert not running.done(), "traffic ended during the outage; make it longer"
        kafka.restart()
        print(f"broker down {time.monotonic() - stopped_at:.1f} s")
        books = settle_and_account(settings, running)
    assert books.by_status[202] and books.retries > 0, "no post met the outage"
    for process in (receiver.process, worker, sink):
        assert process.process.poll() is None, f"died in the outage:\n{process.output()}"
