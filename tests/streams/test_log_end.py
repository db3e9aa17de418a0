"""The changelog end Faust's table recovery reads to, on a real broker."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faust.types import TP

from smsradar.settings import Settings
from streams.log_end import log_ends
from tests.support.brokers import BrokerUnderTest

pytestmark = pytest.mark.integration


async def _write_batches_and_read_ends(bootstrap: str) -> tuple[int, int, int]:
    topic = f"log-end-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=100, acks="all")
    await producer.start()
    try:
        # two batches of ten records each: the linger holds each ten in one batch
        for _ in range(2):
            sent = [await producer.send(topic, b"v", key=b"k", partition=0) for _ in range(10)]
            written = await asyncio.gather(*sent)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        reported = (await consumer.end_offsets([TopicPartition(topic, 0)]))[
            TopicPartition(topic, 0)
        ]
    finally:
        await consumer.stop()
    tp = TP(topic, 0)
    ends = await log_ends(Settings(kafka_bootstrap=bootstrap), {tp: reported})
    return written[-1].offset, reported, ends[tp]


def test_recovery_reads_to_the_last_record(broker: BrokerUnderTest) -> None:
    last_offset, reported, end = asyncio.run(_write_batches_and_read_ends(broker.bootstrap))
    print(f"{broker.kind}: last offset {last_offset}, reported end {reported}, end {end}")
    assert end == last_offset + 1
