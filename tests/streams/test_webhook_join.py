"""The first stage joins a webhook record's events where it was read, when the record is
keyed and partitioned by its message; any other record's events are re-keyed through
the events topic; a record that cannot be normalized is dead-lettered."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka.partitioner import DefaultPartitioner

from smsradar.model import message_key
from smsradar.settings import Settings
from streams.join import MessageJoiner
from streams.normalize import Normalizer
from streams.topics import Topics
from streams.webhook_join import WebhookJoin, WebhookRecord, keyed_partition
from tests.conftest import FIXTURES

PARTITIONS = 8
SETTINGS = Settings(_env_file=None, topic_partitions=PARTITIONS)
TOPICS = Topics.of(SETTINGS)


def _status_record(sms_id: str) -> bytes:
    payload = json.loads((FIXTURES / "smsgateway24" / "status_seed.json").read_text())
    payload["sms_id"] = sms_id
    return orjson.dumps(
        {
            "provider": "smsgateway24",
            "kind": "status",
            "request_id": f"request-{sms_id}",
            "index": 0,
            "received_at": datetime(2026, 11, 20, 10, 0, tzinfo=UTC).isoformat(),
            "payload": payload,
        }
    )


def _join(records: list[WebhookRecord]) -> tuple[list[tuple[str, str]], WebhookJoin]:
    sent: list[tuple[str, str]] = []

    async def emit(topic: str, key: str, value: bytes, headers: Any) -> None:
        sent.append((topic, key))

    stage = WebhookJoin(Normalizer(SETTINGS, emit), MessageJoiner(SETTINGS, {}, emit), PARTITIONS)
    asyncio.run(stage.handle_batch(records, lambda partition: None))
    return sent, stage


def test_keyed_partition_is_where_the_producers_place_a_keyed_record() -> None:
    placed = DefaultPartitioner()  # aiokafka's, as any producer without our partitioner
    partitions = list(range(PARTITIONS))
    keys = [message_key("smsgateway24", str(n)).encode() for n in range(200)]
    assert [keyed_partition(key, PARTITIONS) for key in keys] == [
        placed(key, partitions, partitions) for key in keys
    ]


def test_a_record_keyed_by_its_message_is_joined_where_it_was_read() -> None:
    key = message_key("smsgateway24", "m1").encode()
    record = WebhookRecord(key, _status_record("m1"), keyed_partition(key, PARTITIONS), 0)
    sent, stage = _join([record])
    assert (TOPICS.messages, "smsgateway24:m1") in sent
    assert not [topic for topic, _ in sent if topic == TOPICS.events]
    assert stage.rekeyed == 0


def test_a_record_keyed_otherwise_is_rekeyed_through_the_events_topic() -> None:
    key = message_key("smsgateway24", "m1").encode()
    right = keyed_partition(key, PARTITIONS)
    records = [
        WebhookRecord(None, _status_record("m1"), right, 0),  # no key
        WebhookRecord(b"another key", _status_record("m1"), right, 1),
        WebhookRecord(key, _status_record("m1"), (right + 1) % PARTITIONS, 2),  # misplaced
    ]
    sent, stage = _join(records)
    assert sent == [(TOPICS.events, "smsgateway24:m1")] * 3
    assert stage.rekeyed == 3


def test_a_record_that_cannot_be_normalized_is_dead_lettered() -> None:
    sent, stage = _join([WebhookRecord(b"k", b"{not json", 0, 0)])
    assert sent == [(TOPICS.deadletter, "normalize")]
    assert stage.normalizer.dead_lettered == 1
