"""Per-message state as a fold over the *set* of distinct events.

Everything here is derived from the set, never from arrival order, so any permutation
or duplication of a message's events gives the same state (DESIGN.md: duplicates and
out-of-order arrival must leave the numbers exactly as if each event arrived once, in
order). The state is stored in a Faust table as the JSON-able dict of ``to_json``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from smsradar.facts import MessageFact
from smsradar.model import CanonicalEvent, ErrorCategory, Status
from streams.phones import PhoneNumber

# The outcome classes failure rates count.
DELIVERED, FAILED, UNKNOWN = "delivered", "failed", "unknown"


@dataclass(frozen=True)
class EventRecord:
    """What the state keeps of one event (compact: the table holds millions of these)."""

    event_id: str
    status: Status
    event_time: datetime
    provider_status: str
    error_category: ErrorCategory | None
    error_code: str | None
    device_id: str | None
    sim: str | None
    recipient: str | None
    received_at: datetime  # first arrival: a retry or replay of the event keeps it

    @classmethod
    def of(cls, event: CanonicalEvent) -> EventRecord:
        return cls(
            event.event_id,
            event.status,
            event.event_time,
            event.provider_status,
            event.error_category,
            event.error_code,
            event.device_id,
            event.sim,
            event.recipient,
            event.received_at,
        )

    def to_json(self) -> list[Any]:
        return [
            self.status.value,
            self.event_time.timestamp(),
            self.provider_status,
            self.error_category.value if self.error_category else None,
            self.error_code,
            self.device_id,
            self.sim,
            self.recipient,
            self.received_at.timestamp(),
        ]

    @classmethod
    def from_json(cls, event_id: str, row: list[Any]) -> EventRecord:
        status, ts, provider_status, category, code, device, sim, recipient, received = row
        return cls(
            event_id,
            Status(status),
            datetime.fromtimestamp(ts, tz=UTC),
            provider_status,
            ErrorCategory(category) if category else None,
            code,
            device,
            sim,
            recipient,
            datetime.fromtimestamp(received, tz=UTC),
        )

    @property
    def order(self) -> tuple[datetime, str]:
        """Event-time order, ties broken by id: the same whatever the arrival order."""
        return (self.event_time, self.event_id)


@dataclass(frozen=True)
class BodyRecord:
    """A message's text as one of its events carried it, already under the body policy
    (streams.bodies): its length, its keyed hash, the text only when stored.

    Kept once per message, not per event (the table holds millions of events): the one of
    the earliest event in event-time order, a choice independent of arrival order.
    """

    event_id: str
    event_time: datetime
    length: int | None
    hash: str | None
    text: str | None

    @classmethod
    def of(cls, event: CanonicalEvent) -> BodyRecord | None:
        if event.body_length is None and event.body_hash is None and event.body is None:
            return None
        return cls(event.event_id, event.event_time, event.body_length, event.body_hash, event.body)

    @property
    def order(self) -> tuple[datetime, str]:
        return (self.event_time, self.event_id)

    def to_json(self) -> list[Any]:
        return [self.event_id, self.event_time.timestamp(), self.length, self.hash, self.text]

    @classmethod
    def from_json(cls, row: list[Any]) -> BodyRecord:
        event_id, ts, length, hash_, text = row
        return cls(event_id, datetime.fromtimestamp(ts, tz=UTC), length, hash_, text)


def _precedence(record: EventRecord) -> tuple[int, int, datetime, str]:
    """Which event decides the current status.

    Higher lifecycle rank wins. Among terminal outcomes a definite one (delivered or a
    failure) beats ``unknown`` ("no report available"), and between definite ones the
    later report wins (a gateway correcting itself).
    """
    definite = 0 if record.status is Status.UNKNOWN else 1
    return (record.status.rank, definite, record.event_time, record.event_id)


@dataclass(frozen=True)
class Outcome:
    """A message's terminal outcome, as failure rates count it."""

    kind: str  # DELIVERED, FAILED or UNKNOWN
    at: datetime
    error_category: ErrorCategory | None


class MessageState:
    def __init__(self, provider: str, message_id: str) -> None:
        self.provider = provider
        self.message_id = message_id
        self.events: dict[str, EventRecord] = {}
        self.body: BodyRecord | None = None

    def add(self, event: CanonicalEvent) -> bool:
        """Add an event; False when it was already seen (a gateway retry or a replay)."""
        if event.event_id in self.events:
            return False
        self.events[event.event_id] = EventRecord.of(event)
        body = BodyRecord.of(event)
        if body is not None and (self.body is None or body.order < self.body.order):
            self.body = body
        return True

    # -- storage -----------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        data = {
            "provider": self.provider,
            "message_id": self.message_id,
            "events": {event_id: r.to_json() for event_id, r in self.events.items()},
        }
        if self.body is not None:  # most messages' events carry no text
            data["body"] = self.body.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MessageState:
        state = cls(data["provider"], data["message_id"])
        state.events = {
            event_id: EventRecord.from_json(event_id, row)
            for event_id, row in data["events"].items()
        }
        # Absent from entries written before texts were kept, and for most messages.
        body = data.get("body")
        state.body = BodyRecord.from_json(body) if body is not None else None
        return state

    # -- derived ---------------------------------------------------------------------------

    def current(self) -> EventRecord:
        return max(self.events.values(), key=_precedence)

    def first_time(self, *statuses: Status) -> datetime | None:
        times = [r.event_time for r in self.events.values() if r.status in statuses]
        return min(times) if times else None

    def _in_order(self) -> list[EventRecord]:
        return sorted(self.events.values(), key=lambda r: r.order)

    @staticmethod
    def _first_known(in_order: list[EventRecord], attribute: str) -> str | None:
        for record in in_order:
            value: str | None = getattr(record, attribute)
            if value is not None:
                return value
        return None

    def outcome(self) -> Outcome | None:
        current = self.current()
        if current.status is Status.READ:
            delivered_at = self.first_time(Status.DELIVERED) or current.event_time
            return Outcome(DELIVERED, delivered_at, None)
        if current.status is Status.DELIVERED:
            return Outcome(DELIVERED, current.event_time, None)
        if current.status.is_failure:
            return Outcome(FAILED, current.event_time, current.error_category)
        if current.status is Status.UNKNOWN:
            return Outcome(UNKNOWN, current.event_time, current.error_category)
        return None

    def fact(self, phone: Callable[[str | None], PhoneNumber]) -> MessageFact:
        current = self.current()
        in_order = self._in_order()
        created_at = self.first_time(Status.PENDING, Status.QUEUED) or in_order[0].event_time
        sent_at = self.first_time(Status.SENT)
        delivered_at = self.first_time(Status.DELIVERED)
        failed_at = self.first_time(Status.UNDELIVERED, Status.REJECTED, Status.FAILED)
        outcome = self.outcome()
        recipient = phone(self._first_known(in_order, "recipient"))
        return MessageFact(
            provider=self.provider,
            message_id=self.message_id,
            status=current.status,
            provider_status=current.provider_status,
            error_category=current.error_category,
            error_code=current.error_code,
            is_terminal=current.status.is_terminal,
            device_id=self._first_known(in_order, "device_id"),
            sim=self._first_known(in_order, "sim"),
            recipient=recipient.number,
            recipient_country=recipient.country,
            created_at=created_at,
            sent_at=sent_at,
            delivered_at=delivered_at,
            failed_at=failed_at,
            read_at=self.first_time(Status.READ),
            outcome_at=outcome.at if outcome else None,
            queue_latency_s=_seconds_between(created_at, sent_at),
            delivery_latency_s=_seconds_between(sent_at, delivered_at),
            total_latency_s=_seconds_between(created_at, delivered_at),
            events=len(self.events),
            last_event_at=in_order[-1].event_time,
            body_length=self.body.length if self.body else None,
            body_hash=self.body.hash if self.body else None,
            body=self.body.text if self.body else None,
        )


def _seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()
