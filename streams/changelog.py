"""A table's changelog records held until its stage's batch ends, then sent in batches.

Faust sends every table write to the changelog on its own (a future message, Faust's
producer buffer, aiokafka's per-record send, a callback that writes the persisted offset
into RocksDB): 8 % of the worker. A table whose writers are batched stages can hold them
instead: ``hold_changelog()`` once, then every stage awaits ``flush_changelog()`` after its
batch's writes and before its records are acknowledged, as it awaits its output. The
records go out in write order, a partition batch at a time, and each acknowledged batch
moves the partition's persisted offset (what RocksDB recovery starts after) to its last
record, as Faust's callback does record by record.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.types import TP

from streams.producing import ProducerRecord, SentBatch, send_batches

_NO_HEADERS: list[tuple[str, bytes]] = []


class HeldChangelog(faust.Table):  # type: ignore[type-arg]
    # partition -> records written since the last flush; None: Faust sends each at once
    _held: dict[int, list[ProducerRecord]] | None = None
    _in_flight: list[SentBatch]

    def hold_changelog(self) -> None:
        """Hold this table's changelog records until ``flush_changelog()``."""
        # Faust's own write path also sets windowed keys' expiry and, with exactly-once,
        # persists offsets at commit: neither is done here.
        if self.window is not None or self.app.in_transaction:
            raise RuntimeError("a held changelog is for plain tables, at-least-once")
        self._held = {}
        self._in_flight = []

    def on_key_set(self, key: Any, value: Any) -> None:
        if self._held is None:
            super().on_key_set(key, value)
            return
        self._hold(key, value, self.value_serializer)
        self._sensor_on_set(self, key, value)

    def on_key_del(self, key: Any) -> None:
        if self._held is None:
            super().on_key_del(key)
            return
        self._hold(key, None, "raw")  # a tombstone, as Faust writes it
        self._sensor_on_del(self, key)

    def _hold(self, key: Any, value: Any, value_serializer: Any) -> None:
        assert self._held is not None
        # the partition of the current event, as Faust's changelog write takes it
        partition = self.partition_for_key(key)
        if partition is None:  # pragma: no cover - our tables never use the partitioner
            raise RuntimeError("a held changelog needs the current event's partition")
        topic = self.changelog_topic
        key_bytes, _ = topic.prepare_key(key, self.key_serializer)
        value_bytes, _ = topic.prepare_value(value, value_serializer)
        self._held.setdefault(partition, []).append((key_bytes, value_bytes, _NO_HEADERS))

    async def flush_changelog(self) -> None:
        """Send the held records and wait until the broker has acknowledged them, and every
        batch another stage sent before (raises if a send failed: the worker stops before
        the offsets of the writes' source records are committed, so they are replayed)."""
        if self._held is None:
            return
        held, self._held = self._held, {}
        producer = self.app.producer._ensure_producer()  # type: ignore[attr-defined]
        topic = self.changelog_topic.get_topic_name()
        for partition, records in held.items():
            self._in_flight += await send_batches(producer, topic, partition, records)
        waiting = list(self._in_flight)
        for batch in waiting:
            metadata = await batch.delivery
            if batch in self._in_flight:  # not already done by another stage's flush
                self._in_flight.remove(batch)
                last_offset = metadata.offset + batch.records - 1
                self.data.set_persisted_offset(TP(topic, batch.partition), last_offset)
