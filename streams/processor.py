"""The per-event pipeline, free of Faust so it can be tested with plain dicts.

normalize -> check invariants -> fold into the message's state -> window counts -> facts.

Every processed event re-emits the current facts it touches, even when it changed
nothing (a duplicate): a worker that crashed after its table write but before its fact
writes were flushed re-emits them when the events are replayed. Facts are keyed, so
downstream keeps one row per key.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import orjson
import phonenumbers
from pydantic import BaseModel, ValidationError

from smsradar.model import CanonicalEvent, Direction
from smsradar.providers import ADAPTERS
from smsradar.providers.base import WebhookEnvelope
from smsradar.settings import Settings
from streams import windows
from streams.facts import InboundFact, StatusEventFact
from streams.state import EventRecord, MessageState

log = logging.getLogger("smsradar.streams")

# Earliest event time accepted: anything before is a broken clock or a parse gone wrong.
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


class PoisonEvent(Exception):
    """An event the pipeline cannot use; it goes to the dead-letter topic with the reason."""


@dataclass(frozen=True)
class Topics:
    messages: str
    status_events: str
    inbound: str
    failure_rates: str
    deadletter: str

    @classmethod
    def of(cls, settings: Settings) -> Topics:
        return cls(
            messages=settings.fact_topic("messages"),
            status_events=settings.fact_topic("status_events"),
            inbound=settings.fact_topic("inbound_messages"),
            failure_rates=settings.fact_topic("failure_rates"),
            deadletter=settings.deadletter_topic,
        )


# (topic, key, value, headers)
Emit = Callable[[str, str, bytes, dict[str, bytes] | None], Awaitable[None]]


def _dump(fact: BaseModel) -> bytes:
    return orjson.dumps(fact.model_dump(mode="json"))


class CountryResolver:
    """Destination country (ISO alpha-2) of a recipient number, via libphonenumber."""

    def __init__(self, default_region: str) -> None:
        self.default_region = default_region
        self.resolve = lru_cache(maxsize=100_000)(self._resolve)

    def __call__(self, number: str | None) -> str | None:
        return self.resolve(number) if number else None

    def _resolve(self, number: str) -> str | None:
        digits = number.strip()
        candidates = [digits]
        if digits.isdigit() and not digits.startswith("0"):
            candidates.insert(0, f"+{digits}")  # international without the plus: "32470123456"
        for candidate in candidates:
            try:
                parsed = phonenumbers.parse(candidate, self.default_region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(parsed):
                region: str | None = phonenumbers.region_code_for_number(parsed)
                return region
        return None


class Processor:
    def __init__(
        self,
        settings: Settings,
        states: MutableMapping[str, Any],
        window_entries: MutableMapping[str, Any],
        emit: Emit,
    ) -> None:
        self.settings = settings
        self.topics = Topics.of(settings)
        self.states = states
        self.window_entries = window_entries
        self.emit = emit
        self.country_of = CountryResolver(settings.default_region)
        self.window_s = settings.failure_window_s
        self.lateness = timedelta(seconds=settings.failure_window_lateness_s)
        self.max_skew = timedelta(seconds=settings.max_clock_skew_s)
        self._watermarks: dict[int, datetime] = {}  # per partition: latest outcome window
        self.processed = 0
        self.dead_lettered = 0
        self.late_outcomes = 0

    async def handle(self, raw: bytes, partition: int) -> None:
        """Process one webhook record; never raises for bad data (it is dead-lettered)."""
        try:
            events = self.normalize(raw)
            for event in events:
                self.check(event)
            for event in events:
                await self.apply(event, partition)
        except (PoisonEvent, ValueError, ValidationError, KeyError, TypeError) as exc:
            await self.dead_letter(raw, exc)
        self.processed += 1

    def normalize(self, raw: bytes) -> list[CanonicalEvent]:
        envelope = WebhookEnvelope.model_validate_json(raw)
        adapter = ADAPTERS.get(envelope.provider)
        if adapter is None:
            raise PoisonEvent(f"no adapter for provider {envelope.provider!r}")
        return adapter.normalize(envelope, self.settings.timezone_for(envelope.provider))

    def check(self, event: CanonicalEvent) -> None:
        if event.event_time < _EARLIEST:
            raise PoisonEvent(f"event_time {event.event_time.isoformat()} before 2000")
        if event.event_time > event.received_at + self.max_skew:
            raise PoisonEvent(
                f"event_time {event.event_time.isoformat()} is more than"
                f" {self.settings.max_clock_skew_s}s after its arrival"
            )

    async def apply(self, event: CanonicalEvent, partition: int) -> None:
        if event.direction is Direction.INBOUND:
            await self._apply_inbound(event)
        else:
            await self._apply_outbound(event, partition)

    async def _apply_inbound(self, event: CanonicalEvent) -> None:
        key = f"inbound|{event.message_key}"
        stored = self.states.get(key)
        record = EventRecord.of(event)
        if stored is None:
            self.states[key] = {"received_at": event.received_at.timestamp()}
        else:
            first_arrival = datetime.fromtimestamp(stored["received_at"], tz=UTC)
            record = dataclasses.replace(record, received_at=first_arrival)
        await self._emit_status_event(event, record)
        fact = InboundFact(
            event_id=event.event_id,
            provider=event.provider,
            message_id=event.message_id,
            sender=event.sender,
            recipient=event.recipient,
            device_id=event.device_id,
            sim=event.sim,
            received_at=event.event_time,
            sent_at=event.sender_sent_at,
            reply_to_message_id=event.reply_to_message_id,
            body_length=event.body_length,
        )
        await self.emit(self.topics.inbound, event.message_key, _dump(fact), None)

    async def _apply_outbound(self, event: CanonicalEvent, partition: int) -> None:
        key = event.message_key
        stored = self.states.get(key)
        state = (
            MessageState.from_json(stored)
            if stored is not None
            else MessageState(event.provider, event.message_id)
        )
        before = self._contribution(state) if state.events else None
        if state.add(event):
            self.states[key] = state.to_json()
        fact = state.fact(self.country_of)
        after = windows.contribution(fact, state.outcome(), self.window_s)
        await self._emit_status_event(event, state.events[event.event_id])
        await self.emit(self.topics.messages, key, _dump(fact), None)
        await self._update_windows(before, after, partition)

    def _contribution(self, state: MessageState) -> windows.Contribution | None:
        return windows.contribution(state.fact(self.country_of), state.outcome(), self.window_s)

    async def _update_windows(
        self,
        before: windows.Contribution | None,
        after: windows.Contribution | None,
        partition: int,
    ) -> None:
        changes: list[tuple[windows.Contribution, int]] = []
        if before != after:
            if before is not None:
                changes.append((before, -1))
            if after is not None:
                changes.append((after, +1))
        elif after is not None:
            changes.append((after, 0))  # unchanged: re-emit its current counts
        for change, sign in changes:
            if not self._window_open(change.window_start, partition):
                self.late_outcomes += 1
                log.warning(
                    "outcome later than the window lateness; not counted in failure rates",
                    extra={"window_start": change.window_start.isoformat()},
                )
                continue
            entry_key = f"{partition}|{int(change.window_start.timestamp())}"
            entry: windows.WindowEntry = self.window_entries.get(entry_key) or {}
            touched = windows.apply(entry, change, sign)
            if sign:
                self.window_entries[entry_key] = entry
            facts = windows.facts_for(entry, change.window_start, self.window_s, partition, touched)
            for fact in facts:
                await self.emit(
                    self.topics.failure_rates, windows.fact_key(fact), _dump(fact), None
                )

    def _window_open(self, start: datetime, partition: int) -> bool:
        """Is the window within the lateness of the partition's newest outcome window?"""
        watermark = self._watermarks.get(partition)
        if watermark is None or start > watermark:
            self._watermarks[partition] = start
            self._expire_windows(partition, start)
            return True
        return start >= watermark - self.lateness

    def _expire_windows(self, partition: int, watermark: datetime) -> None:
        """Drop this partition's window entries older than the lateness (on a new watermark)."""
        horizon = int((watermark - self.lateness).timestamp())
        stale = [
            key
            for key in list(self.window_entries.keys())
            if key.startswith(f"{partition}|") and int(key.split("|", 1)[1]) < horizon
        ]
        for key in stale:
            del self.window_entries[key]

    async def _emit_status_event(self, event: CanonicalEvent, record: EventRecord) -> None:
        fact = StatusEventFact(
            event_id=event.event_id,
            provider=event.provider,
            message_id=event.message_id,
            direction=event.direction.value,
            status=record.status,
            provider_status=record.provider_status,
            provider_status_known=event.provider_status_known,
            error_category=record.error_category,
            error_code=record.error_code,
            event_time=record.event_time,
            received_at=record.received_at,
            device_id=record.device_id,
            sim=record.sim,
        )
        await self.emit(self.topics.status_events, event.event_id, _dump(fact), None)

    async def dead_letter(self, raw: bytes, exc: Exception) -> None:
        self.dead_lettered += 1
        reason = f"{type(exc).__name__}: {exc}"[:2000]
        log.warning("event dead-lettered", extra={"reason": reason[:300]})
        headers = {"source": b"streams", "reason": reason.encode()}
        await self.emit(self.topics.deadletter, "streams", raw, headers)
