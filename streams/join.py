"""Stage 2: canonical events -> per-message state -> facts.

Free of Faust so it can be tested with plain dicts: ``states`` and ``window_entries`` are
Faust tables in the worker. Every processed event re-emits the current facts it touches,
even when it changed nothing (a duplicate): a worker that crashed after its table write
but before its fact writes were flushed re-emits them when the events are replayed.
Facts are keyed, so downstream keeps one row per key.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from smsradar.model import CanonicalEvent, Direction
from smsradar.settings import Settings
from streams import windows
from streams.facts import InboundFact, StatusEventFact
from streams.phones import PhoneNumbers
from streams.state import EventRecord, MessageState
from streams.topics import Emit, Topics, dead_letter, dump

log = logging.getLogger("smsradar.streams")


class MessageJoiner:
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
        # "<partition>|<window epoch>" -> windows.WindowEntry, and
        # "watermark|<partition>" -> epoch of the partition's newest outcome window
        self.window_entries = window_entries
        self.emit = emit
        self.phone = PhoneNumbers(settings.default_region)
        self.window_s = settings.failure_window_s
        self.lateness = timedelta(seconds=settings.failure_window_lateness_s)
        self.processed = 0
        self.late_outcomes = 0

    async def handle(self, raw: bytes, partition: int) -> None:
        """Join one canonical event record; never raises for bad data."""
        try:
            event = CanonicalEvent.model_validate_json(raw)
        except ValidationError as exc:
            await dead_letter(self.emit, self.topics, "join", raw, exc)
            return
        await self.apply(event, partition)
        self.processed += 1

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
            sender=self.phone(event.sender).number,
            recipient=self.phone(event.recipient).number,
            device_id=event.device_id,
            sim=event.sim,
            received_at=event.event_time,
            sent_at=event.sender_sent_at,
            reply_to_message_id=event.reply_to_message_id,
            body_length=event.body_length,
        )
        await self.emit(self.topics.inbound, event.message_key, dump(fact), None)

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
        fact = state.fact(self.phone)
        after = windows.contribution(fact, state.outcome(), self.window_s)
        await self._emit_status_event(event, state.events[event.event_id])
        await self.emit(self.topics.messages, key, dump(fact), None)
        await self._update_windows(before, after, partition)

    def _contribution(self, state: MessageState) -> windows.Contribution | None:
        return windows.contribution(state.fact(self.phone), state.outcome(), self.window_s)

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
                await self.emit(self.topics.failure_rates, windows.fact_key(fact), dump(fact), None)

    def _window_open(self, start: datetime, partition: int) -> bool:
        """Is the window within the lateness of the partition's newest outcome window?

        The watermark lives in the table, so a restarted worker judges lateness exactly
        as the one before it did.
        """
        watermark_key = f"watermark|{partition}"
        start_epoch = int(start.timestamp())
        watermark: int | None = self.window_entries.get(watermark_key)
        if watermark is None or start_epoch > watermark:
            self.window_entries[watermark_key] = start_epoch
            self._expire_windows(partition, start_epoch)
            return True
        return start_epoch >= watermark - self.lateness.total_seconds()

    def _expire_windows(self, partition: int, watermark_epoch: int) -> None:
        """Drop this partition's window entries older than the lateness (on a new watermark)."""
        horizon = watermark_epoch - self.lateness.total_seconds()
        prefix = f"{partition}|"
        stale = [
            key
            for key in list(self.window_entries.keys())
            if key.startswith(prefix) and int(key[len(prefix) :]) < horizon
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
        await self.emit(self.topics.status_events, event.event_id, dump(fact), None)
