"""An inbound SMS whose webhook arrives twice keeps its first arrival's times."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from smsradar.model import CanonicalEvent, Direction, Status
from smsradar.settings import Settings
from streams.join import MessageJoiner


def _inbound(arrived: datetime) -> CanonicalEvent:
    # As Twilio's: no time in the callback, so the event time is the arrival.
    return CanonicalEvent(
        event_id="twilio:SM1:received",
        provider="twilio",
        message_id="SM1",
        direction=Direction.INBOUND,
        status=Status.RECEIVED,
        provider_status="received",
        event_time=arrived,
        received_at=arrived,
        sender="+32470000001",
        request_id="r1",
    )


def test_a_retried_inbound_webhook_keeps_the_first_arrival() -> None:
    facts: dict[str, dict[str, Any]] = {}

    async def emit(topic: str, key: str, value: bytes, headers: object) -> None:
        facts[f"{topic}|{key}"] = orjson.loads(value)

    settings = Settings()
    joiner = MessageJoiner(settings, {}, emit)
    first = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    for arrival in (first, first + timedelta(seconds=20)):  # the gateway's retry
        asyncio.run(joiner.apply(_inbound(arrival), partition=0, offset=0))
    inbound = facts[f"{settings.fact_topic('inbound_messages')}|twilio:SM1"]
    event = facts[f"{settings.fact_topic('status_events')}|twilio:SM1:received"]
    assert datetime.fromisoformat(inbound["received_at"]) == first
    assert datetime.fromisoformat(event["event_time"]) == first
    assert datetime.fromisoformat(event["received_at"]) == first
