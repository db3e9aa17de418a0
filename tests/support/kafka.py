"""Read topics back with a plain aiokafka consumer."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition


@dataclass(frozen=True)
class ConsumedRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]


async def _read_all(
    bootstrap: str, topics: list[str], expected: int | None, timeout_s: float
) -> list[ConsumedRecord]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    records: list[ConsumedRecord] = []
    try:
        partitions = await _topic_partitions(consumer, topics)
        if not partitions:
            return records
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end_offsets = await consumer.end_offsets(partitions)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            for tp_records in batch.values():
                records.extend(
                    ConsumedRecord(r.topic, r.partition, r.offset, r.key, r.value, dict(r.headers))
                    for r in tp_records
                )
            caught_up = True
            for tp, end in end_offsets.items():
                caught_up = caught_up and await consumer.position(tp) >= end
            if expected is None and caught_up:
                break
            if expected is not None and len(records) >= expected:
                break
    finally:
        await consumer.stop()
    return records


async def _topic_partitions(consumer: AIOKafkaConsumer, topics: list[str]) -> list[TopicPartition]:
    """Every partition of ``topics``; metadata is fetched again only for a topic not known yet
    (created since the consumer started)."""
    partitions = []
    for topic in topics:
        known = consumer.partitions_for_topic(topic)
        if not known:
            await consumer._client.force_metadata_update()
            known = consumer.partitions_for_topic(topic) or set()
        partitions += [TopicPartition(topic, p) for p in known]
    return partitions


def read_topics(
    bootstrap: str, topics: list[str], expected: int | None = None, timeout_s: float = 15.0
) -> list[ConsumedRecord]:
    """Every record on ``topics`` (up to the end offsets at start, or ``expected`` records)."""
    return asyncio.run(_read_all(bootstrap, topics, expected, timeout_s))


async def _group_lag(bootstrap: str, group_id: str, topics: list[str]) -> int:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = await _topic_partitions(consumer, topics)
        end_offsets = await consumer.end_offsets(partitions)
        lag = 0
        for tp, end in end_offsets.items():
            lag += end - (await consumer.committed(tp) or 0)
        return lag
    finally:
        await consumer.stop()


def wait_for_group_caught_up(
    bootstrap: str, group_id: str, topics: list[str], timeout_s: float = 60.0
) -> None:
    """Wait until ``group_id`` has committed every record written so far to ``topics``: a
    worker has then processed them, whatever it did with them (duplicates change nothing)."""
    deadline = time.monotonic() + timeout_s
    while (lag := asyncio.run(_group_lag(bootstrap, group_id, topics))) > 0:
        if time.monotonic() > deadline:
            raise AssertionError(f"group {group_id} still {lag} records behind {topics}")
        time.sleep(0.5)
