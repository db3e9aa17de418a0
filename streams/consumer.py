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

Records are handed to the agents as Faust does, except that a record whose hand-over
cannot wait is handed over directly: Faust races every hand-over against a suspension of
the flow (a rebalance), in four new tasks per record (18 µs, measured), though only a
hand-over that waits can lose that race: one waiting for flow control, for the producer's
buffer, for the conductor's lock, or for room in an agent's full queue.

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
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Consumer, Transport
from faust.types import TP, Message
from mode import ServiceT

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

    async def _drain_messages(self, fetcher: ServiceT) -> None:
        """Faust's loop (faust-streaming 0.15.3, pinned), but for the direct hand-over (see
        the module docstring)."""
        callback = self.callback
        consumer_stopped = self._stopped.is_set
        fetcher_stopped = fetcher._stopped.is_set  # type: ignore[attr-defined]
        read_offsets = self._read_offset
        since_yield = 0
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                self.diag.set_flag(CONSUMER_FETCHING)
                records = self.getmany(timeout=1.0)
                await self.sleep(0)  # getmany may return at once, over and over
                if not self.should_stop:
                    async for tp, message in records:
                        since_yield += 1
                        if since_yield > 100:
                            await asyncio.sleep(0)
                            since_yield = 0
                        offset = message.offset
                        read_offset = read_offsets.get(tp)
                        if read_offset is not None and offset < read_offset:
                            continue  # handed over before (Faust logs these at its dev level)
                        if read_offset and offset - read_offset > 1:
                            await self._note_gap(tp, read_offset, offset)
                        if self._commit_every is not None and self._n_acked >= self._commit_every:
                            self._n_acked = 0
                            await self.commit()
                        if self._hand_over_cannot_wait(tp):
                            await callback(message)
                        else:
                            await self.wait_first(callback(message), self.suspend_flow.wait())
                        read_offsets[tp] = offset
                self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if not self.transport.app.should_stop:
                raise
            self.log.info("Broker stopped consumer, shutting down...")
        except asyncio.CancelledError:
            if not self.transport.app.should_stop:
                raise
            self.log.info("Consumer shutting down for user cancel.")
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)

    async def _note_gap(self, tp: TP, read_offset: int, offset: int) -> None:
        if self.app.topics.acks_enabled_for(tp.topic):
            await self._add_gap(tp, read_offset + 1, offset)

    def _hand_over_cannot_wait(self, tp: TP) -> bool:
        """Would the conductor hand a record of ``tp`` to its agents without waiting?

        Mirrors every wait of Faust's handler: the conductor's lock, flow control, the
        producer's buffer, and the queue of each agent reading ``tp``.
        """
        if self.suspend_flow.is_set():
            return False
        app = self.app
        conductor: Any = app.topics
        lock = conductor._tp_to_callback_lock
        if lock.locked() or lock._waiters:
            return False
        if not app.flow_control.is_active():
            return False
        buffer = app.producer.buffer
        if buffer.size > buffer.max_messages:
            return False
        return not any(channel.queue.full() for channel in conductor._tp_index.get(tp, ()))

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
