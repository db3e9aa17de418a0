"""The worker's consumer hands over every record from a seek's position, whatever was in flight.

Faust's own drain loop runs here against scripted fetches, and the seek runs in a task
of its own, as Faust's recovery runs it; aiokafka's side of the seek is scripted too (the
kill -9 fault test and the two-worker test cover the whole on real brokers). The log
records what aiokafka was asked and when: a seek must reach aiokafka only after the batch
in Faust's hands was given up, and every record from the sought position must be handed
over after it. Each scenario runs with both hand-overs: raced against a suspension of
the flow in tasks of their own (Faust's), and direct, when it cannot wait.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
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
    hand_over: str = "raced"  # or "direct": the flow control resumed
    hand_overs_ran_in: set[str] = field(default_factory=set)  # the tasks' coroutines
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
            task = asyncio.current_task()
            assert task is not None
            self.hand_overs_ran_in.add(task.get_coro().__name__)  # type: ignore[union-attr]
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


@pytest.fixture(params=["raced", "direct"])
def hand_over(request: pytest.FixtureRequest) -> str:
    param: str = request.param
    return param


def _run(tmp_path: Path, **scenario: Any) -> Scenario:
    async def run() -> Scenario:
        # Faust binds the app to the loop it is made in
        app = create_app(Settings(_env_file=None, data_dir=tmp_path))
        assert isinstance(app.consumer, SeekSafeConsumer)
        ran = Scenario(app.consumer, **scenario)
        if ran.hand_over == "direct":
            # Faust's flow control starts suspended: every hand-over waits until it resumes
            app.flow_control.resume()
        await ran.run()
        # a direct hand-over runs in the drain loop's task, a raced one in a task of its own
        expected = {"_drain_messages" if ran.hand_over == "direct" else "on_record"}
        assert ran.hand_overs_ran_in == (expected if "handed" in str(ran.log) else set())
        return ran

    return asyncio.run(run())


def test_a_seek_while_a_record_is_in_flight_hands_over_all_from_the_committed_offset(
    tmp_path: Path, hand_over: str
) -> None:
    # fetched before the seek, then again from the committed offset, then new records
    ran = _run(
        tmp_path,
        fetches=[range(10, 20), range(10, 20), range(20, 25)],
        seek_at=("handed", 12),
        hand_over=hand_over,
    )
    assert ran.log[:5] == ["fetched 10-19", "handed 10", "handed 11", "handed 12", "seek"]
    assert ran.handed_after_seek() == list(range(10, 25))
    assert ran.consumer.stale_batches_dropped == 1


def test_a_batch_fetched_while_a_seek_starts_is_given_up_before_the_seek(
    tmp_path: Path, hand_over: str
) -> None:
    ran = _run(
        tmp_path,
        fetches=[range(30, 35), range(10, 13)],
        seek_at=("fetched", 30),
        hand_over=hand_over,
    )
    assert ran.log == [
        "fetched 30-34",
        "seek",
        "fetched 10-12",
        *(f"handed {o}" for o in (10, 11, 12)),
    ]
    assert ran.consumer.stale_batches_dropped == 1


def test_a_partition_never_committed_is_read_again_from_its_beginning(
    tmp_path: Path, hand_over: str
) -> None:
    ran = _run(
        tmp_path,
        fetches=[range(0, 4), range(0, 4)],
        committed=None,
        seek_at=("handed", 1),
        hand_over=hand_over,
    )
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
        settings = Settings(_env_file=None, data_dir=tmp_path)
        app = create_app(settings)
        thread: Any = app.consumer._new_consumer_thread()  # type: ignore[attr-defined]
        aiokafka_consumer = thread._create_worker_consumer(app.transport)
        wait_ms: int = aiokafka_consumer._fetch_max_wait_ms
        return wait_ms

    assert asyncio.run(worker_fetch_wait_ms()) == FETCH_MAX_WAIT_MS == 500


def test_a_record_is_handed_over_directly_only_when_its_hand_over_cannot_wait(
    tmp_path: Path,
) -> None:
    """Each thing Faust's hand-over can wait for makes it raced (direct when none is)."""

    async def verdicts() -> dict[str, bool]:
        app = create_app(Settings(_env_file=None, data_dir=tmp_path))
        consumer: Any = app.consumer
        conductor: Any = app.topics
        agent_topic = app.topic(TOPIC)
        conductor._tp_index[PARTITION].add(agent_topic)
        seen = {"flow control suspended": consumer._hand_over_cannot_wait(PARTITION)}
        app.flow_control.resume()
        seen["nothing to wait for"] = consumer._hand_over_cannot_wait(PARTITION)
        consumer.suspend_flow.set()
        seen["flow suspended for a rebalance"] = consumer._hand_over_cannot_wait(PARTITION)
        consumer.suspend_flow.clear()
        async with conductor._tp_to_callback_lock:
            seen["conductor's lock held"] = consumer._hand_over_cannot_wait(PARTITION)
        buffer: Any = app.producer.buffer
        for _ in range(buffer.max_messages + 1):
            buffer.pending.put_nowait(None)
        seen["producer buffer over its size"] = consumer._hand_over_cannot_wait(PARTITION)
        while buffer.size:
            buffer.pending.get_nowait()
        while not agent_topic.queue.full():
            agent_topic.queue.put_nowait(None)
        seen["an agent's queue full"] = consumer._hand_over_cannot_wait(PARTITION)
        seen["another partition"] = consumer._hand_over_cannot_wait(TP(TOPIC, 1))
        return seen

    assert asyncio.run(verdicts()) == {
        "flow control suspended": False,
        "nothing to wait for": True,
        "flow suspended for a rebalance": False,
        "conductor's lock held": False,
        "producer buffer over its size": False,
        "an agent's queue full": False,
        "another partition": True,
    }
