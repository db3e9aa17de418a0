"""The sink: fact topics -> Parquet segments of the analytics store.

Offsets are committed only after the segment holding the records is durable (fsynced and
renamed), and on start each partition resumes after the last offset already in a segment,
so a crash neither loses nor re-writes records. Even a re-written record would be harmless:
readers keep one row per key, the one with the highest offset.

One sink writes a store (a lock file says so); it is cheap enough that one keeps up with
many workers. Its compactor runs in a thread beside it.

A full disk (or quota) stops nothing but the writing: the sink keeps its unwritten batches,
pauses fetching so they stop growing, and retries with back-off until a write succeeds.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import logging
import math
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pyarrow as pa
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from pydantic import ValidationError

from analytics.compactor import CompactionPolicy, Compactor, CompactorThread
from analytics.relations import RELATIONS, Relation
from analytics.store import SegmentName, Store
from smsradar.eventloop import use_uvloop
from smsradar.heap import freeze_the_start_up_heap, return_big_blocks_to_the_os
from smsradar.kafka import client_options, ensure_topics, make_producer
from smsradar.logs import loggable_reason
from smsradar.settings import Settings

log = logging.getLogger("smsradar.analytics")

# Write failures that freeing space cures: retried, never fatal.
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
DISK_FULL_RETRY_S = (1.0, 10.0)  # first and longest wait between attempts


class StoreLockedError(RuntimeError):
    pass


@contextmanager
def writer_lock(store: Store) -> Iterator[None]:
    """Hold the store's single-writer lock (released by the OS if the process dies)."""
    store.root.mkdir(parents=True, exist_ok=True)
    path = store.root / ".writer.lock"
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise StoreLockedError(
                f"another sink ({holder}) is writing to {store.root}; one sink per store"
            ) from None
        handle.truncate(0)
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class Batch:
    """Records of one fact-topic partition read since the last flush."""

    relation: Relation
    partition: int
    first: int
    last: int = -1
    rows: list[dict[str, Any]] = field(default_factory=list)
    written: bool = False  # durable in a segment; a retried flush skips it


class Sink:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.relations = {settings.fact_topic(r.name): r for r in RELATIONS.values()}
        self.batches: dict[TopicPartition, Batch] = {}
        self.written_rows = 0
        self.invalid_records = 0
        self.stopping = asyncio.Event()
        self.disk_full_since: float | None = None
        self.retry_write_at = 0.0
        # The consume loop and the rebalance listener both flush, and a rebalance can come
        # while the loop's flush waits for its write: one flush at a time.
        self._flushing = asyncio.Lock()

    async def run(self) -> None:
        await ensure_topics(
            self.settings, {topic: {"cleanup.policy": "compact"} for topic in self.relations}
        )
        consumer = AIOKafkaConsumer(
            **client_options(self.settings),
            group_id=f"{self.settings.app_id}-sink",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.settings.sink_max_batch_rows,
        )
        consumer.subscribe(list(self.relations), listener=_ResumeAfterSegments(self, consumer))
        producer = make_producer(self.settings)
        await consumer.start()
        await producer.start()
        try:
            await self._consume(consumer, producer)
        finally:
            await self._flush(consumer)
            await consumer.stop()
            await producer.stop()

    async def _consume(self, consumer: AIOKafkaConsumer, producer: Any) -> None:
        """Fetch and flush: a flush starts every ``sink_flush_interval_s``.

        The wait for records ends when the next flush is due (on a full disk, when the next
        write is tried), so a row read waits one interval at most, and then the write. A
        wait of a whole interval from each fetch let records arriving a little less than
        an interval apart put a flush off by up to another interval, and counting from the
        end of a flush added its write to every interval.
        """
        interval = self.settings.sink_flush_interval_s
        flush_due_at = time.monotonic() + interval
        while not self.stopping.is_set():
            # at most an interval: a stop is noticed between fetches, even on a full disk
            wait_s = min(interval, max(flush_due_at, self.retry_write_at) - time.monotonic())
            records = await consumer.getmany(timeout_ms=max(0, math.ceil(wait_s * 1000)))
            for tp, messages in records.items():
                for message in messages:
                    await self._add(tp, message, producer)
            pending = sum(len(b.rows) for b in self.batches.values())
            now = time.monotonic()
            if now >= self.retry_write_at and (
                now >= flush_due_at or pending >= self.settings.sink_max_batch_rows
            ):
                flush_due_at = now + interval
                await self._flush(consumer)

    async def _add(self, tp: TopicPartition, message: Any, producer: Any) -> None:
        relation = self.relations[tp.topic]
        batch = self.batches.get(tp)
        # A batch already written by a flush that then failed on another one: new rows
        # (after a rebalance) start a batch of their own, or they would be skipped.
        if batch is None or batch.written:
            batch = self.batches[tp] = Batch(relation, tp.partition, first=message.offset)
        batch.last = message.offset
        try:
            fact = relation.fact.model_validate_json(message.value)
        except ValidationError as exc:
            # Never dropped silently: kept whole in the dead-letter topic, with the reason.
            self.invalid_records += 1
            reason = f"{type(exc).__name__}: {exc}"[:2000]
            log.warning(
                "fact dead-lettered", extra={"topic": tp.topic, "reason": loggable_reason(exc)}
            )
            headers = [("source", b"sink"), ("stage", b"sink"), ("reason", reason.encode())]
            await producer.send_and_wait(
                self.settings.deadletter_topic, message.value, key=message.key, headers=headers
            )
            return
        row = fact.model_dump()
        row["_partition"] = tp.partition
        row["_offset"] = message.offset
        batch.rows.append(row)

    async def _flush(self, consumer: AIOKafkaConsumer) -> None:
        """Write every batch as a segment, durably; then commit their offsets.

        On a full disk the batches stay (their offsets uncommitted) for the next attempt.
        A flush that starts while another runs waits for it, then writes what is left:
        otherwise both would write the same batches, and the second, finding them taken,
        committed no offsets at all (aiokafka's ValueError, which stopped the sink).
        """
        async with self._flushing:
            await self._write_and_commit(consumer)

    async def _write_and_commit(self, consumer: AIOKafkaConsumer) -> None:
        if not self.batches:
            return
        try:
            await asyncio.to_thread(self._write, list(self.batches.values()))
        except OSError as exc:
            if exc.errno not in DISK_FULL:
                raise
            self._wait_for_space(consumer, exc)
            return
        batches, self.batches = self.batches, {}
        if self.disk_full_since is not None:
            log.warning(
                "store writable again; fetching resumed",
                extra={"waited_s": round(time.monotonic() - self.disk_full_since, 1)},
            )
            self.disk_full_since = None
            self.retry_write_at = 0.0
            consumer.resume(*consumer.assignment())
        await consumer.commit({tp: batch.last + 1 for tp, batch in batches.items()})

    def _wait_for_space(self, consumer: AIOKafkaConsumer, exc: OSError) -> None:
        # Paused, getmany returns nothing but still counts as polling: the group keeps the
        # partitions, and the batches held in memory stop growing.
        consumer.pause(*consumer.assignment())
        now = time.monotonic()
        first, longest = DISK_FULL_RETRY_S
        if self.disk_full_since is None:
            self.disk_full_since = now
            wait_s = first
        else:
            wait_s = min(longest, max(first, 2 * (now - self.disk_full_since)))
        self.retry_write_at = now + wait_s
        log.error(
            "store disk full; unwritten batches kept, fetching paused, retrying",
            extra={
                "error": f"{exc.strerror} ({exc.filename or self.store.root})",
                "pending_rows": sum(len(b.rows) for b in self.batches.values() if not b.written),
                "retry_in_s": round(wait_s, 1),
            },
        )

    def _write(self, batches: list[Batch]) -> None:
        for batch in batches:
            if batch.written:
                continue
            if batch.rows:  # else only dead-lettered records: the commit moves on
                table = pa.Table.from_pylist(batch.rows, schema=batch.relation.schema)
                name = SegmentName.new(batch.partition, "tail", batch.first, batch.last)
                self.store.write_segment(batch.relation, name, table)
                self.written_rows += len(batch.rows)
            batch.written = True

    def next_offset(self, tp: TopicPartition) -> int | None:
        """Resume point from the segments: after the last offset any of them holds."""
        relation = self.relations[tp.topic]
        lasts = [n.last for n, _ in self.store.segments(relation) if n.partition == tp.partition]
        return max(lasts) + 1 if lasts else None


class _ResumeAfterSegments(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, sink: Sink, consumer: AIOKafkaConsumer) -> None:
        self.sink = sink
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self.sink._flush(self.consumer)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        for tp in assigned:
            stored = self.sink.next_offset(tp)
            committed = await self.consumer.committed(tp)
            if stored is not None and (committed is None or stored > committed):
                self.consumer.seek(tp, stored)


def compaction_policy(settings: Settings) -> CompactionPolicy:
    retention = timedelta(days=settings.retention_days) if settings.retention_days else None
    return CompactionPolicy(
        rebase_min_rows=settings.compact_rebase_min_rows,
        retention=retention,
        memory_mib=settings.compact_memory_mib,
    )


@contextmanager
def sink_resources(settings: Settings) -> Iterator[Sink]:
    """The store locked, laid out and cleaned up, with its compactor running."""
    store = Store(settings.data_dir)
    with writer_lock(store):
        store.ensure()
        store.remove_temporaries()
        store.write_catalog()  # views of this version
        compactor = CompactorThread(
            Compactor(store, compaction_policy(settings)), settings.compact_interval_s
        )
        compactor.start()
        try:
            yield Sink(settings, store)
        finally:
            compactor.stop()


def run_sink(settings: Settings) -> None:
    """``smsradar sink``: run until SIGINT/SIGTERM, then flush, commit and stop."""
    return_big_blocks_to_the_os()
    use_uvloop()
    with sink_resources(settings) as sink:
        freeze_the_start_up_heap()
        asyncio.run(_run_until_signalled(sink))


async def _run_until_signalled(sink: Sink) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, sink.stopping.set)
    await _run_logged(sink)


async def _run_logged(sink: Sink) -> None:
    log.info("sink started", extra={"store": str(sink.store.root)})
    await sink.run()
    log.info("sink stopped", extra={"rows": sink.written_rows, "invalid": sink.invalid_records})


class SinkThread(threading.Thread):
    """The sink beside another main loop (``smsradar worker --with-sink``)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(name="sink", daemon=True)
        self.settings = settings
        self.loop: asyncio.AbstractEventLoop | None = None
        self.sink: Sink | None = None
        self.started = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with sink_resources(self.settings) as sink:
                self.sink = sink
                asyncio.run(self._main(sink))
        except BaseException as exc:  # reported by stop(); the worker must not hang
            self.error = exc
            self.started.set()

    async def _main(self, sink: Sink) -> None:
        self.loop = asyncio.get_running_loop()
        self.started.set()
        await _run_logged(sink)

    def stop(self) -> None:
        """Flush, commit and stop; re-raise what made the sink fail, if anything."""
        self.started.wait()
        if self.loop is not None and self.sink is not None:
            self.loop.call_soon_threadsafe(self.sink.stopping.set)
        self.join()
        if self.error is not None:
            raise self.error
