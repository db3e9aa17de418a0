"""The sink's flush against a real store: a flush that starts while another one writes (the
rebalance listener's, during the consume loop's) neither writes twice nor commits nothing;
and the consume loop flushes every interval, however the records trickle in."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import TopicPartition

import analytics.sink
from analytics.sink import Sink
from analytics.store import Store
from smsradar.facts import StatusEventFact
from smsradar.model import Status
from smsradar.settings import Settings


class RecordingConsumer:
    """What the sink's flush asks of its consumer: a commit, checked as aiokafka checks it."""

    def __init__(self) -> None:
        self.commits: list[dict[TopicPartition, int]] = []

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if not offsets:
            raise ValueError(offsets)  # aiokafka's answer to an empty commit
        self.commits.append(offsets)


def _status_event(number: int) -> bytes:
    at = datetime(2026, 12, 6, 10, 0, number, tzinfo=UTC)
    return (
        StatusEventFact(
            event_id=f"e{number}",
            provider="smsgateway24",
            message_id=f"m{number}",
            direction="outbound",
            status=Status.DELIVERED,
            provider_status="delivered",
            provider_status_known=True,
            error_category=None,
            error_code=None,
            event_time=at,
            received_at=at,
            device_id="42",
            sim="0",
        )
        .model_dump_json()
        .encode()
    )


def test_a_flush_started_during_another_waits_and_commits_once(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)
    store = Store(settings.data_dir)
    store.ensure()
    sink = Sink(settings, store)
    relation = sink.relations[settings.fact_topic("status_events")]
    tp = TopicPartition(settings.fact_topic("status_events"), 0)
    consumer: Any = RecordingConsumer()

    async def run() -> None:
        for offset in range(5):
            record = SimpleNamespace(offset=offset, key=b"k", value=_status_event(offset))
            await sink._add(tp, record, producer=None)
        # The second starts while the first waits for its write thread, as the rebalance
        # listener's does when a rebalance comes during the consume loop's flush.
        await asyncio.gather(sink._flush(consumer), sink._flush(consumer))

    asyncio.run(run())

    assert consumer.commits == [{tp: 5}]
    assert [(name.first, name.last) for name, _ in store.segments(relation)] == [(0, 4)]
    assert sink.written_rows == 5


class VirtualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


class TricklingConsumer:
    """Records arriving one by one at given times of a virtual clock: ``getmany`` returns
    the next one if it arrives within the timeout (moving the clock to its arrival), else
    nothing once the timeout is up, as aiokafka's does. A flush's write and commit take
    ``flush_s``. Stops the sink a few intervals after the last record."""

    def __init__(
        self,
        clock: VirtualClock,
        tp: TopicPartition,
        arrivals: list[float],
        sink: Sink,
        flush_s: float,
    ) -> None:
        self.clock = clock
        self.flush_s = flush_s
        self.tp = tp
        self.arrivals = list(arrivals)
        self.sink = sink
        self.quiet_until = arrivals[-1] + 3 * sink.settings.sink_flush_interval_s
        self.offset = 0
        self.timeouts_ms: list[int] = []
        self.commits: list[tuple[float, dict[TopicPartition, int]]] = []

    async def getmany(self, timeout_ms: int) -> dict[TopicPartition, list[Any]]:
        assert timeout_ms >= 0
        self.timeouts_ms.append(timeout_ms)
        assert len(self.timeouts_ms) < 1000, "the consume loop spins"
        deadline = self.clock.now + timeout_ms / 1000
        if self.arrivals and self.arrivals[0] <= deadline:
            self.clock.now = max(self.clock.now, self.arrivals.pop(0))
            record = SimpleNamespace(offset=self.offset, key=b"k", value=_status_event(self.offset))
            self.offset += 1
            return {self.tp: [record]}
        self.clock.now = deadline
        if not self.arrivals and self.clock.now >= self.quiet_until:
            self.sink.stopping.set()
        return {}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.clock.now += self.flush_s
        self.commits.append((self.clock.now, offsets))


def _sink_on_virtual_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, interval: float
) -> tuple[Sink, VirtualClock, TopicPartition]:
    settings = Settings(_env_file=None, data_dir=tmp_path, sink_flush_interval_s=interval)
    store = Store(settings.data_dir)
    store.ensure()
    clock = VirtualClock()
    monkeypatch.setattr(analytics.sink, "time", clock)
    return Sink(settings, store), clock, TopicPartition(settings.fact_topic("status_events"), 0)


def test_flushes_start_every_interval_however_records_trickle_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    interval, flush_s = 1.0, 0.25
    sink, clock, tp = _sink_on_virtual_time(tmp_path, monkeypatch, interval)
    # A little less than an interval apart: each fetch sees a record before its wait is up.
    arrivals = [0.05 + 0.9 * number for number in range(8)]
    consumer: Any = TricklingConsumer(clock, tp, arrivals, sink, flush_s)

    asyncio.run(sink._consume(consumer, producer=None))

    for offset, arrived in enumerate(arrivals):
        committed = next(at for at, offsets in consumer.commits if offsets[tp] > offset)
        # a millisecond for the fetch timeout's rounding up
        assert committed - arrived <= interval + flush_s + 0.001, (offset, arrived, committed)
    assert sink.written_rows == len(arrivals)
    # each interval holds a record: a flush every interval, counted from its start, and
    # not one per record (the loop waits for the next, it does not spin)
    committed_at = [at for at, _ in consumer.commits]
    gaps = [later - earlier for earlier, later in itertools.pairwise(committed_at)]
    assert gaps and all(interval - 0.001 <= gap <= interval + 0.001 for gap in gaps), gaps


def test_on_a_full_disk_the_loop_waits_for_the_next_write_attempt_without_spinning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    interval = 1.0
    sink, clock, tp = _sink_on_virtual_time(tmp_path, monkeypatch, interval)
    sink.retry_write_at = 3.5  # as a write that failed for want of space leaves it
    consumer: Any = TricklingConsumer(clock, tp, [0.05, 0.5], sink, flush_s=0.0)

    asyncio.run(sink._consume(consumer, producer=None))

    assert [at for at, _ in consumer.commits] == [pytest.approx(3.5, abs=0.002)]
    assert sink.written_rows == 2
    # no fetch waits longer than an interval, so a stop is noticed meanwhile
    assert max(consumer.timeouts_ms) <= interval * 1000 + 1
