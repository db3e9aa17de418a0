"""The sink's flush against a real store: a flush that starts while another one writes (the
rebalance listener's, during the consume loop's) neither writes twice nor commits nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition

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
