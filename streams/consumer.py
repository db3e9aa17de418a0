"""The worker's Kafka consumer: Faust's, made safe around seeks.

Faust hands records to its agents from batches it fetched earlier, and remembers per
partition the last offset it handed over (its "read offset"); a record below it is
dropped as already seen. When a worker takes partitions (start-up, rebalance), Faust
resumes them, then seeks them to their committed offsets; records fetched in between
are handed over, the seek sets the read offsets back, and the rest of that batch, still
in Faust's hands, moves them forward again. The records re-fetched from the committed
offset are then dropped, including those that were queued for an agent but never
processed (Faust clears its queues when the flow resumes): events acknowledged to the
gateway that no stage ever sees. (faust-streaming 0.15.3; kill -9 of a worker lost 54
of 1,948 events this way in one of ten runs.)

So here a seek waits until the batch in hand is given up (at its next record; the record
in flight is handed over first), and only then moves the fetcher: no record fetched
before a seek is handed over after it, and none fetched after it is given up. The records
are fetched again from the sought position, which for a partition without a committed
offset is its beginning: aiokafka seeks only partitions committed above offset 0 and
leaves the others where its fetcher was, past the records handed over before the seek
(5 inbound events lost in CI on 2026-12-03).

Fetches wait at most FETCH_MAX_WAIT_MS for data, not Faust's fixed 1,500 ms: the embedded
broker answers a fetch of over a second only when its wait is up, not when data arrives
(measured: 0.48 s from a produce to its fetch at 1,500 ms, 1-2 ms at 1,000 ms and less),
which added half a second to every stage. Apache Kafka answers as soon as data arrives
either way; the wait only bounds an idle fetch there.

Also: the changelog's true end for table recovery (``streams.log_end``), and commits
never past an offset still being processed (Faust's head-of-acks check is off by one).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any, cast

import aiokafka
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Consumer, Transport
from faust.types import TP, Message

from smsradar.settings import Settings
from streams.log_end import log_ends

log = logging.getLogger("smsradar.streams")

# aiokafka's default; see the module docstring.
FETCH_MAX_WAIT_MS = 500


class _ConsumerThread(AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Transport) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # Faust passes a fixed fetch_max_wait_ms; aiokafka hands the attribute to its
        # fetcher when the consumer starts (aiokafka 0.14, pinned).
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class SeekSafeConsumer(Consumer):
    smsradar_settings: Settings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Bumped when a seek starts; a batch fetched under an older number is given up.
        self.seeks_started = 0
        self._not_seeking = asyncio.Event()
        self._not_seeking.set()
        # Clear while a batch is fetched or handed over, and the task doing it.
        self._no_batch_in_hand = asyncio.Event()
        self._no_batch_in_hand.set()
        self._fetching_task: asyncio.Task[Any] | None = None
        # Where partitions without a committed offset were sought to: their first offset.
        self._log_start: dict[TP, int] = {}
        self.stale_batches_dropped = 0

    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def perform_seek(self) -> None:
        self.seeks_started += 1
        self._not_seeking.clear()
        try:
            # The batch in hand is given up at its next record; seeking before that
            # would let a fetch still in flight move past the sought position.
            # (Faust also seeks from inside a fetch, when its flow is stopped.)
            if asyncio.current_task() is not self._fetching_task:
                await self._no_batch_in_hand.wait()
            await super().perform_seek()
        finally:
            self._not_seeking.set()

    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed = dict(await super().seek_to_committed())
        changelogs = self.app.tables.changelog_topics
        uncommitted = [
            tp for tp, offset in committed.items() if not offset and tp.topic not in changelogs
        ]
        if uncommitted:
            # The first offsets from the broker, and a seek to them (aiokafka leaves
            # these partitions where its fetcher was).
            starts = await self._thread.earliest_offsets(*uncommitted)
            await self._thread.seek_wait(starts)
            committed.update(starts)
            self._log_start.update(starts)
        return committed

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        await self._not_seeking.wait()
        fetched_under = self.seeks_started
        self._no_batch_in_hand.clear()
        self._fetching_task = asyncio.current_task()
        batch = cast(AsyncGenerator[tuple[TP, Message], None], super().getmany(timeout))
        try:
            async with aclosing(batch) as records:
                async for tp, message in records:
                    if self.seeks_started != fetched_under:
                        self._drop_stale_batch(tp, message.offset)
                        return
                    yield tp, message
        finally:
            self._fetching_task = None
            self._no_batch_in_hand.set()

    def _drop_stale_batch(self, tp: TP, next_offset: int) -> None:
        self.stale_batches_dropped += 1
        log.info(
            "a seek ended the fetched batch; its records are fetched again",
            extra={"topic": tp.topic, "partition": tp.partition, "next_offset": next_offset},
        )

    def _new_offset(self, tp: TP) -> int | None:
        # Faust commits past the committed offset when that offset is still in flight
        # and the next ones are acknowledged (faust-streaming issue #606).
        committed = self._committed_offset[tp]
        head = committed if committed is not None else self._log_start.get(tp)
        acked = self._acked[tp]
        in_flight = head is not None and bool(acked) and min(acked) > head
        if in_flight and not self._gap[tp].overlaps(head):
            return None
        return super()._new_offset(tp)

    async def highwaters(self, *partitions: TP) -> dict[TP, int]:
        reported = await super().highwaters(*partitions)
        return await log_ends(self.smsradar_settings, reported)
