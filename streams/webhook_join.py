"""Stage 1: webhook records -> canonical events, joined on the partition they were read from.

The receiver keys a webhook record by its message (``provider:message_id``) and every
webhook topic has the events topic's partition count, so a record's events belong to the
partition the record was read from: they are joined right there, in the same batch, with
no trip through the events topic (a produce and a consume per event, the largest cost of
the worker after the join itself).

An event whose record was not keyed by its message, or not partitioned as a keyed record
is (records written by another producer, or by hand), is re-keyed instead: sent to the
events topic, keyed by its message, and joined from there (``streams.app``). Either way
all of a message's events are joined on one partition of one worker.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from smsradar.model import CanonicalEvent
from smsradar.partitioning import partition_of
from streams.join import MessageJoiner
from streams.normalize import Normalizer


@dataclass(frozen=True)
class WebhookRecord:
    key: bytes | None
    value: bytes
    partition: int
    offset: int


# Bounded small: most keys hashed are unique (status events' ids), and what pays is a
# message's key hashed again within its batch; 65,536 entries held 16 MiB.
@functools.lru_cache(maxsize=16_384)
def keyed_partition(key: bytes, partitions: int) -> int:
    """The partition a keyed record goes to: Kafka's default partitioner (murmur2), which
    the receiver's producer and the worker's both use.

    Cached: a message's key is hashed for each of its events and facts, and murmur2 in
    pure Python cost 4 % of the worker's time."""
    return partition_of(key, partitions)


class WebhookJoin:
    def __init__(self, normalizer: Normalizer, joiner: MessageJoiner, partitions: int) -> None:
        self.normalizer = normalizer
        self.joiner = joiner
        self.partitions = partitions
        self.rekeyed = 0

    async def handle_batch(
        self, records: Sequence[WebhookRecord], enter_partition: Callable[[int], None]
    ) -> None:
        """Normalize and join a batch of webhook records; never raises for bad data (a
        record that cannot be normalized is dead-lettered)."""
        joined: list[tuple[CanonicalEvent, int, int]] = []
        for record in records:
            for event in await self.normalizer.events_of(record.value):
                if self._read_where_keyed(event, record):
                    joined.append((event, record.partition, record.offset))
                else:
                    self.rekeyed += 1
                    await self.normalizer.publish(event)
        await self.joiner.apply_batch(joined, enter_partition)

    def _read_where_keyed(self, event: CanonicalEvent, record: WebhookRecord) -> bool:
        key = event.message_key.encode()
        return record.key == key and record.partition == keyed_partition(key, self.partitions)
