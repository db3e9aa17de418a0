"""The worker's consumer hands over every record from a seek's position, whatever was in flight.

Faust's own drain loop runs here against scripted fetches, and the seek runs in a task
of its own, as Faust's recovery runs it; aiokafka's side of the seek is scripted too (the
kill -9 fault test and the two-worker test cover the whole on real brokers). The log
records what aiokafka was asked and when: a seek must reach aiokafka only after the batch
in Faust's hands was given up, and every record from the sought position must be handed
over after it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka.structs import ConsumerRecord
from faust.types import TP, Message

from smsradar.settings import Settings
from streams.app import create_app
from streams.consumer import FETCH_MAX_WAIT_MS, SeekSafeConsumer

TOPIC = "smsradar.events"
PARTITION = TP(TOPIC, 0)
COMMITTED = 10


def _records(offsets: range) -> dict[TP, list[Any]]:
    return {
        PARTITION: [
            ConsumerRecord(TOPIC, 0, offset, 0, 0, b"k", b"v", None, 1, 1, []) for offset in offsets
        ]
    }


@dataclass
class Scenario:
    """Faust's drain loop over scripted fetches; ``log`` holds "fetched a-b", "seek",
    "seek to beginning" and "handed n" in the order they happened."""

    consumer: SeekSafeConsumer
    fetches: list[range]
    committed: int | None = COMMITTED
    seek_at: tuple[str, int] | None = None  # ("handed", offset) or ("fetched", first offset)
    log: list[str] = field(default_factory=list)
    seeks: list[asyncio.Task[None]] = field(default_factory=list)  # kept from the GC

    def handed_after_seek(self) -> list[int]:
        seek = self.log.index("seek")
        return [int(e.split()[1]) for e in self.log[seek:] if e.startswith("handed")]

    async def _seek_in_its_own_task(self) -> None:
        self.seeks.append(asyncio.get_running_loop().create_task(self.consumer.perform_seek()))
        await asyncio.sleep(0.01)  # the seek has started and waits if it must

    async def run(self) -> None:
        consumer: Any = self.consumer
        stopped = asyncio.Event()

        class Fetcher:
            _stopped = stopped

        async def next_fetch(timeout: float) -> tuple[dict[TP, list[Any]] | None, None]:
            if not self.fetches:
                stopped.set()
                await asyncio.sleep(0)
                return None, None
            offsets = self.fetches.pop(0)
            if self.seek_at == ("fetched", offsets.start):
                await self._seek_in_its_own_task()  # while this fetch is on its way
            self.log.append(f"fetched {offsets.start}-{offsets.stop - 1}")
            return _records(offsets), None

        async def on_record(message: Message) -> None:
            self.log.append(f"handed {message.offset}")
            if self.seek_at == ("handed", message.offset) and "seek" not in self.log:
                await self._seek_in_its_own_task()  # while this record is in flight

        async def seek_to_committed() -> dict[TP, int | None]:
            self.log.append("seek")
            return {PARTITION: self.committed}

        async def earliest_offsets(*partitions: TP) -> dict[TP, int]:
            return dict.fromkeys(partitions, 0)

        async def seek_wait(partitions: dict[TP, int]) -> None:
            self.log.append("seek to beginning")

        consumer._thread.seek_to_committed = seek_to_committed
        consumer._thread.earliest_offsets = earliest_offsets
        consumer._thread.seek_wait = seek_wait
        consumer._wait_next_records = next_fetch
        consumer.highwater = lambda tp: 100
        consumer.callback = on_record
        await asyncio.wait_for(consumer._drain_messages(Fetcher()), 10)


def _run(tmp_path: Path, **scenario: Any) -> Scenario:
    async def run() -> Scenario:
        # Faust binds the app to the loop it is made in
        app = create_app(Settings(_env_file=None, data_dir=tmp_path))  # type: ignore[call-arg]
        assert isinstance(app.consumer, SeekSafeConsumer)
        ran = Scenario(app.consumer, **scenario)
        await ran.run()
        return ran

    return asyncio.run(run())


def test_a_seek_while_a_record_is_in_flight_hands_over_all_from_the_committed_offset(
    tmp_path: Path,
) -> None:
    # fetched before the seek, then again from the committed offset, then new records
    ran = _run(
        tmp_path, fetches=[range(10, 20), range(10, 20), range(20, 25)], seek_at=("handed", 12)
    )
    assert ran.log[:5] == ["fetched 10-19", "handed 10", "handed 11", "handed 12", "seek"]
    assert ran.handed_after_seek() == list(range(10, 25))
    assert ran.consumer.stale_batches_dropped == 1


def test_a_batch_fetched_while_a_seek_starts_is_given_up_before_the_seek(
    tmp_path: Path,
) -> None:
    ran = _run(tmp_path, fetches=[range(30, 35), range(10, 13)], seek_at=("fetched", 30))
    assert ran.log == [
        "fetched 30-34",
        "seek",
        "fetched 10-12",
        *(f"handed {o}" for o in (10, 11, 12)),
    ]
    assert ran.consumer.stale_batches_dropped == 1


def test_a_partition_never_committed_is_read_again_from_its_beginning(tmp_path: Path) -> None:
    ran = _run(tmp_path, fetches=[range(0, 4), range(0, 4)], committed=None, seek_at=("handed", 1))
    assert ran.log[:5] == ["fetched 0-3", "handed 0", "handed 1", "seek", "seek to beginning"]
    assert ran.handed_after_seek() == [0, 1, 2, 3]


def test_no_commit_passes_an_offset_still_in_flight(tmp_path: Path) -> None:
    consumer = _run(tmp_path, fetches=[]).consumer
    consumer._committed_offset[PARTITION] = COMMITTED
    # 10 is still with an agent; 11 and 12 were acknowledged first
    consumer._acked[PARTITION].extend([11, 12])
    assert consumer._new_offset(PARTITION) is None
    consumer._acked[PARTITION].insert(0, 10)
    assert consumer._new_offset(PARTITION) == 13


def test_no_commit_passes_the_first_offset_of_a_partition_never_committed(
    tmp_path: Path,
) -> None:
    consumer = _run(tmp_path, fetches=[]).consumer
    consumer._log_start[PARTITION] = 0  # sought to its beginning, offset 0
    consumer._acked[PARTITION].extend([1, 2])
    assert consumer._new_offset(PARTITION) is None
    consumer._acked[PARTITION].insert(0, 0)
    assert consumer._new_offset(PARTITION) == 3


def test_the_workers_fetches_wait_at_most_fetch_max_wait_ms(tmp_path: Path) -> None:
    """Faust asks for 1,500 ms, which the embedded broker answers only when it is up."""

    async def worker_fetch_wait_ms() -> int:
        settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
        app = create_app(settings)
        thread: Any = app.consumer._new_consumer_thread()  # type: ignore[attr-defined]
        aiokafka_consumer = thread._create_worker_consumer(app.transport)
        wait_ms: int = aiokafka_consumer._fetch_max_wait_ms
        return wait_ms

    assert asyncio.run(worker_fetch_wait_ms()) == FETCH_MAX_WAIT_MS == 500
