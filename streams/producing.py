"""Records sent to one partition a producer batch at a time (aiokafka's batch API).

One future per batch rather than one per record: Faust's and aiokafka's per-record
bookkeeping was the largest cost per event when the stages sent their output and their
table changelogs a record at a time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any

# (key, value, headers); a value of None is a tombstone
ProducerRecord = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]


@dataclass(frozen=True)
class SentBatch:
    """A batch of ``records`` records handed to the producer; ``delivery`` resolves to its
    RecordMetadata (the first record's offset) once the broker has acknowledged it."""

    partition: int
    records: int
    delivery: Awaitable[Any]


async def send_batches(
    producer: Any, topic: str, partition: int, records: Sequence[ProducerRecord]
) -> list[SentBatch]:
    """Send records to one partition, in order, in as few producer batches as fit."""
    sent: list[SentBatch] = []
    batch = producer.create_batch()
    for key, value, headers in records:
        if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
            sent.append(await _send(producer, batch, topic, partition))
            batch = producer.create_batch()
            # an empty batch takes any one record (the broker judges its size): a refusal
            # here would lose the record, so it stops the stage instead
            if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                raise RuntimeError(f"an empty producer batch refused a record for {topic}")
    if batch.record_count():
        sent.append(await _send(producer, batch, topic, partition))
    return sent


async def _send(producer: Any, batch: Any, topic: str, partition: int) -> SentBatch:
    records = batch.record_count()
    return SentBatch(
        partition, records, await producer.send_batch(batch, topic, partition=partition)
    )
