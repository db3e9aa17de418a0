"""Stage 1: a provider webhook record -> canonical events on the events topic.

An event that breaks an invariant of the canonical model (a timestamp before 2000 or far
in the future) is poison for every later stage: it goes to the dead-letter topic here,
with the reason, and the stream goes on.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from smsradar.model import CanonicalEvent
from smsradar.providers import ADAPTERS
from smsradar.providers.base import WebhookEnvelope
from smsradar.settings import Settings
from streams.bodies import BodyPolicy
from streams.topics import Emit, Topics, dead_letter

# Earliest event time accepted: anything before is a broken clock or a parse gone wrong.
EARLIEST_EVENT_TIME = datetime(2000, 1, 1, tzinfo=UTC)


class PoisonEvent(ValueError):
    """An event the pipeline cannot use; it goes to the dead-letter topic with the reason."""


class Normalizer:
    def __init__(self, settings: Settings, emit: Emit) -> None:
        self.settings = settings
        self.topics = Topics.of(settings)
        self.emit = emit
        self.max_skew = timedelta(seconds=settings.max_clock_skew_s)
        self.bodies = BodyPolicy.of(settings)
        self.normalized = 0
        self.dead_lettered = 0

    async def events_of(self, raw: bytes) -> list[CanonicalEvent]:
        """The record's canonical events; none if it is dead-lettered (never raises)."""
        try:
            events = self.normalize(raw)
        except (ValueError, ValidationError, KeyError, TypeError) as exc:
            self.dead_lettered += 1
            await dead_letter(self.emit, self.topics, "normalize", raw, exc)
            return []
        self.normalized += 1
        return events

    async def publish(self, event: CanonicalEvent) -> None:
        """Send an event to the events topic, keyed by its message."""
        await self.emit(
            self.topics.events, event.message_key, event.model_dump_json().encode(), None
        )

    def normalize(self, raw: bytes) -> list[CanonicalEvent]:
        envelope = WebhookEnvelope.model_validate_json(raw)
        adapter = ADAPTERS.get(envelope.provider)
        if adapter is None:
            raise PoisonEvent(f"no adapter for provider {envelope.provider!r}")
        events = adapter.normalize(envelope, self.settings.timezone_for(envelope.provider))
        for event in events:
            self.check(event)
        return [self.bodies.apply(event) for event in events]

    def check(self, event: CanonicalEvent) -> None:
        if event.event_time < EARLIEST_EVENT_TIME:
            raise PoisonEvent(f"event_time {event.event_time.isoformat()} before 2000")
        if event.event_time > event.received_at + self.max_skew:
            raise PoisonEvent(
                f"event_time {event.event_time.isoformat()} is more than"
                f" {self.settings.max_clock_skew_s}s after its arrival"
            )
