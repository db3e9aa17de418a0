"""Message texts: what the normalize stage keeps (streams.bodies), which one a message's
state keeps (streams.state), and what reaches the analytics store and its readers."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import TopicPartition
from pydantic import ValidationError

from analytics.reader import connect, run_query
from analytics.sink import Sink
from analytics.store import Store
from smsradar.model import CanonicalEvent, Direction, Status
from smsradar.providers.base import WebhookEnvelope
from smsradar.settings import Settings
from streams.bodies import BodyPolicy
from streams.join import MessageJoiner
from streams.normalize import Normalizer
from streams.state import MessageState
from streams.topics import Topics, dead_letter
from tests.conftest import FIXTURES

KEY = "body-hash-test-key"
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _hmac(text: str, key: str = KEY) -> str:
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()


def _settings(tmp_path: Path | None = None, **values: Any) -> Settings:
    if tmp_path is not None:
        values["data_dir"] = tmp_path / "data"
    return Settings(_env_file=None, **values)


def _event(
    event_id: str,
    minute: int,
    body: str | None = None,
    *,
    status: Status = Status.DELIVERED,
    body_hash: str | None = None,
    body_length: int | None = None,
) -> CanonicalEvent:
    return CanonicalEvent(
        event_id=event_id,
        request_id="r",
        provider="smstools",
        message_id="m-1",
        direction=Direction.OUTBOUND,
        status=status,
        provider_status=status.value,
        event_time=T0 + timedelta(minutes=minute),
        received_at=T0 + timedelta(minutes=minute, seconds=1),
        body=body,
        body_hash=body_hash,
        body_length=len(body) if body is not None and body_length is None else body_length,
    )


# -- the policy --------------------------------------------------------------------------


def test_by_default_a_text_is_kept_as_its_length_only() -> None:
    policy = BodyPolicy.of(_settings())
    kept = policy.apply(_event("e1", 0, "Your code is 123456"))
    assert (kept.body, kept.body_hash, kept.body_length) == (None, None, 19)


def test_with_a_key_the_hash_is_hmac_sha256_hex_of_the_utf8_text() -> None:
    policy = BodyPolicy.of(_settings(body_hash_key=KEY))
    text = "Olá — 你好 🙂"
    kept = policy.apply(_event("e1", 0, text))
    assert kept.body is None
    assert kept.body_hash == _hmac(text)
    assert kept.body_length == len(text)
    # keyed: another key, another hash; the same text, the same hash
    other = BodyPolicy.of(_settings(body_hash_key="another key")).apply(_event("e2", 0, text))
    assert other.body_hash != kept.body_hash
    assert policy.apply(_event("e3", 5, text)).body_hash == kept.body_hash


def test_the_text_is_kept_only_when_asked_for() -> None:
    kept = BodyPolicy.of(_settings(store_message_bodies=True)).apply(_event("e1", 0, "hello"))
    assert (kept.body, kept.body_hash, kept.body_length) == ("hello", None, 5)
    both = BodyPolicy.of(_settings(store_message_bodies=True, body_hash_key=KEY))
    kept = both.apply(_event("e1", 0, "hello"))
    assert (kept.body, kept.body_hash) == ("hello", _hmac("hello"))


def test_an_event_without_text_is_left_alone_and_an_empty_text_is_a_text() -> None:
    policy = BodyPolicy.of(_settings(body_hash_key=KEY))
    event = _event("e1", 0)
    assert policy.apply(event) is event
    empty = policy.apply(_event("e2", 0, ""))
    assert (empty.body_length, empty.body_hash) == (0, _hmac(""))


def test_a_lone_surrogate_hashes_instead_of_failing() -> None:
    # JSON may escape one ("\ud800"); the worker must not crash on it.
    text = json.loads('"code \\ud800"')
    kept = BodyPolicy.of(_settings(body_hash_key=KEY)).apply(_event("e1", 0, text))
    assert kept.body_hash is not None and len(kept.body_hash) == 64


def test_the_normalize_stage_applies_the_policy(tmp_path: Path) -> None:
    raw = _envelope("smstools", "delivery_report", _smstools_report("r-1", "secret text"))
    published = Normalizer(_settings(tmp_path), _discard).normalize(raw)
    assert [(e.body, e.body_hash, e.body_length) for e in published] == [(None, None, 11)]
    hashed = Normalizer(_settings(tmp_path, body_hash_key=KEY), _discard).normalize(raw)
    assert [(e.body, e.body_hash) for e in hashed] == [(None, _hmac("secret text"))]


# -- one text per message ------------------------------------------------------------------


def test_the_earliest_event_with_a_text_decides_whatever_the_arrival_order() -> None:
    events = [
        _event("sent", 1, status=Status.SENT),  # no text
        _event("report-1", 2, body_length=5, body_hash="h-first"),
        _event("report-2", 3, body_length=9, body_hash="h-second"),
        _event("report-0", 2, body_length=7, body_hash="h-tie"),  # same time: lower id wins
    ]
    outcomes = set()
    for order in itertools.permutations(events):
        state = MessageState("smstools", "m-1")
        for event in order:
            state.add(event)
            state.add(event)  # a duplicate changes nothing
        assert state.body is not None
        outcomes.add((state.body.event_id, state.body.length, state.body.hash))
    assert outcomes == {("report-0", 7, "h-tie")}


def test_a_message_without_text_has_none() -> None:
    state = MessageState("smstools", "m-1")
    state.add(_event("sent", 1, status=Status.SENT))
    assert state.body is None
    assert "body" not in state.to_json()  # most messages: nothing stored for it


def test_the_text_survives_the_table_round_trip() -> None:
    state = MessageState("smstools", "m-1")
    state.add(_event("sent", 1, status=Status.SENT))
    state.add(_event("report", 2, "stored text", body_hash="h"))
    stored = json.loads(json.dumps(state.to_json()))  # as the table's changelog keeps it
    restored = MessageState.from_json(stored)
    assert restored.body == state.body
    assert restored.to_json() == state.to_json()
    # and an earlier event arriving after the restore still wins
    restored.add(_event("early", 0, "earlier text"))
    assert restored.body is not None and restored.body.text == "earlier text"


def test_an_entry_written_before_texts_were_kept_still_reads() -> None:
    state = MessageState("smstools", "m-1")
    state.add(_event("sent", 1, status=Status.SENT))
    old = state.to_json()
    old.pop("body", None)
    restored = MessageState.from_json(old)
    assert restored.body is None
    restored.add(_event("report", 2, "later text"))
    assert restored.body is not None and restored.body.text == "later text"


def test_the_log_of_a_dead_lettered_record_holds_no_value_from_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    marker = "MARKER-a-message-text"
    sent: list[tuple[str, bytes, dict[str, bytes] | None]] = []

    async def emit(topic: str, key: str, value: bytes, headers: dict[str, bytes] | None) -> None:
        sent.append((topic, value, headers))

    try:
        CanonicalEvent.model_validate({"event_id": 1, "body": [marker], "status": marker})
    except ValidationError as exc:
        error = exc
    topics = Topics.of(_settings())
    with caplog.at_level(logging.DEBUG):
        asyncio.run(dead_letter(emit, topics, "join", marker.encode(), error))
    assert "event dead-lettered" in caplog.text
    logged = " ".join(str(record.__dict__) for record in caplog.records)
    assert marker not in logged and "status (enum)" in logged
    # the dead-letter record itself keeps everything, for whoever investigates
    [(topic, value, headers)] = sent
    assert topic == topics.deadletter and marker.encode() in value
    assert headers is not None and marker.encode() in headers["reason"]


# -- through the worker's stages and the sink into the store -------------------------------


def _envelope(provider: str, kind: str, payload: dict[str, Any]) -> bytes:
    envelope = WebhookEnvelope(
        provider=provider,
        kind=kind,
        request_id="r",
        received_at=datetime(2026, 11, 20, 10, 6, tzinfo=UTC),
        payload=payload,
    )
    return envelope.model_dump_json().encode()


def _smstools_report(message_id: str, text: str) -> dict[str, Any]:
    [report] = json.loads((FIXTURES / "smstools" / "delivery_report_seed.json").read_text())
    return {**report, "message": {**report["message"], "messageid": message_id, "content": text}}


async def _discard(topic: str, key: str, value: bytes, headers: dict[str, bytes] | None) -> None:
    pass


OUTBOUND_TEXT = "Your login code is 482913"
INBOUND_TEXT = "Sim, confirmo — obrigado"


def _store_rows(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    """The webhooks through Normalizer -> MessageJoiner -> the sink's rows -> a segment,
    read back through the reader ``smsradar sql`` and the dashboard use."""
    sgw24_incoming = json.loads((FIXTURES / "smsgateway24" / "incoming_seed.json").read_text())
    sgw24_status = json.loads((FIXTURES / "smsgateway24" / "status_seed.json").read_text())
    webhooks = [
        _envelope("smstools", "delivery_report", _smstools_report("with-text", OUTBOUND_TEXT)),
        _envelope("smsgateway24", "incoming", {**sgw24_incoming, "body": INBOUND_TEXT}),
        _envelope("smsgateway24", "status", sgw24_status),  # a status without text
    ]
    store = Store(settings.data_dir)
    store.ensure()
    sink = Sink(settings, store)
    offsets = itertools.count()

    async def to_sink(topic: str, key: str, value: bytes, headers: dict[str, bytes] | None) -> None:
        if topic in sink.relations:
            record = SimpleNamespace(offset=next(offsets), key=key.encode(), value=value)
            await sink._add(TopicPartition(topic, 0), record, producer=None)

    joiner = MessageJoiner(settings, {}, to_sink)
    events: list[bytes] = []

    async def to_joiner(
        topic: str, key: str, value: bytes, headers: dict[str, bytes] | None
    ) -> None:
        assert topic == Topics.of(settings).events
        events.append(value)

    async def run() -> None:
        normalizer = Normalizer(settings, to_joiner)
        for raw in webhooks:
            for event in await normalizer.events_of(raw):
                await normalizer.publish(event)
        assert normalizer.dead_lettered == 0
        for offset, value in enumerate(events):
            await joiner.handle(value, partition=0, offset=offset)

    asyncio.run(run())
    assert sink.invalid_records == 0
    sink._write(list(sink.batches.values()))
    # Nothing the worker published holds the text unless it is to be stored.
    if not settings.store_message_bodies:
        assert all(OUTBOUND_TEXT.encode() not in event for event in events)

    connection = connect(settings)
    try:
        return {
            "messages": run_query(
                connection,
                "SELECT provider, message_id, body_length, body_hash, body FROM messages"
                " ORDER BY provider",
            ).rows,
            "inbound_messages": run_query(
                connection,
                "SELECT provider, body_length, body_hash, body FROM inbound_messages",
            ).rows,
        }
    finally:
        connection.close()


def test_the_store_keeps_lengths_only_by_default(tmp_path: Path) -> None:
    rows = _store_rows(_settings(tmp_path))
    assert rows["messages"] == [
        ("smsgateway24", "1254", None, None, None),
        ("smstools", "with-text", len(OUTBOUND_TEXT), None, None),
    ]
    assert rows["inbound_messages"] == [("smsgateway24", len(INBOUND_TEXT), None, None)]
    segments = (tmp_path / "data").rglob("*.parquet")
    assert not any(OUTBOUND_TEXT.encode() in path.read_bytes() for path in segments)


def test_the_store_keeps_the_keyed_hash_with_a_key(tmp_path: Path) -> None:
    rows = _store_rows(_settings(tmp_path, body_hash_key=KEY))
    assert rows["messages"][1] == ("smstools", "with-text", 25, _hmac(OUTBOUND_TEXT), None)
    assert rows["inbound_messages"] == [("smsgateway24", 24, _hmac(INBOUND_TEXT), None)]


def test_the_store_keeps_the_text_when_asked_to(tmp_path: Path) -> None:
    rows = _store_rows(_settings(tmp_path, store_message_bodies=True))
    assert rows["messages"][1] == ("smstools", "with-text", 25, None, OUTBOUND_TEXT)
    assert rows["inbound_messages"] == [("smsgateway24", 24, None, INBOUND_TEXT)]
