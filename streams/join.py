"""Stage 2: canonical events -> per-message state -> facts.

Free of Faust so it can be tested with a plain dict: ``table`` is one Faust table in the
worker, holding

    "<provider>:<message id>"       message state (MessageState.to_json + replay marker)
    "inbound|<provider>:<id>"       first arrival of an inbound message
    "window|<partition>|<epoch>"    windows.WindowRecord of one failure-rate window
    "watermark|<partition>"         newest outcome window of the partition and its live windows

One table, because Faust writes every change made while processing an event to the
changelog partition of that event, in order; a crash therefore keeps a *prefix* of an
event's writes. The message state is written first and records the window changes the
event causes, numbered, and every window records the number of the last change applied
to it, so an event replayed after a crash finishes exactly the writes that were lost: no
count is lost or doubled (two tables would keep an arbitrary subset).

Whether an event was applied is read from the message state (its event ids), never from
offsets: Faust does not always hand a partition's records over in offset order (around
a rebalance a prefetched later record can come first, and the earlier ones after it), so
"at or below the last applied offset" would mistake an unseen event for a replay and
lose it. Change numbers only have to grow in the order changes are written to a window.

Every processed event re-emits the current facts it touches, even when it changed
nothing (a duplicate): a worker that crashed after its table write but before its fact
writes were flushed re-emits them when the events are replayed. Facts are keyed, so
downstream keeps one row per key.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from smsradar.facts import InboundFact, StatusEventFact
from smsradar.model import CanonicalEvent, Direction
from smsradar.settings import Settings
from streams import windows
from streams.phones import PhoneNumbers
from streams.state import EventRecord, MessageState
from streams.topics import Emit, Topics, dead_letter, dump

log = logging.getLogger("smsradar.streams")


# Window records are kept this long (event time) after they close to late outcomes, so that
# a replay after a crash can still re-send their final counts.
REPLAY_MARGIN_S = 3600


@dataclass
class StoredMessage:
    """A message's table entry: its state, and what makes re-applying an event a no-op.

    ``pending`` are the window changes caused by ``applied_event``, the last event that
    changed the state, numbered ``applied_sequence`` (written before them); ``windows``
    every window contribution the message was ever counted or uncounted in.
    """

    state: MessageState
    applied_event: str | None = None
    applied_sequence: int = -1
    pending: list[windows.Change] = field(default_factory=list)
    windows: list[windows.Contribution] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None, event: CanonicalEvent) -> StoredMessage:
        if data is None:
            return cls(MessageState(event.provider, event.message_id))
        return cls(
            MessageState.from_json(data),
            # absent from entries written when offsets numbered the changes
            data.get("applied_event"),
            data.get("applied_sequence", data.get("applied_offset", -1)),
            windows.changes_from_json(data["pending"]),
            [windows.Contribution.from_json(row) for row in data["windows"]],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            **self.state.to_json(),
            "applied_event": self.applied_event,
            "applied_sequence": self.applied_sequence,
            "pending": windows.changes_to_json(self.pending),
            "windows": [contribution.to_json() for contribution in self.windows],
        }


class MessageJoiner:
    def __init__(self, settings: Settings, table: MutableMapping[str, Any], emit: Emit) -> None:
        self.settings = settings
        self.topics = Topics.of(settings)
        self.table = table
        self.emit = emit
        self.phone = PhoneNumbers(settings.default_region)
        self.window_s = settings.failure_window_s
        self.lateness_s = settings.failure_window_lateness_s
        self.processed = 0
        self.late_outcomes = 0
        # Highest events-topic offset joined, per partition: an unseen event below it was
        # read out of offset order (logged, as evidence of the case the join must survive).
        self.highest_offset: dict[int, int] = {}
        self.read_out_of_order = 0

    async def handle(self, raw: bytes, partition: int, offset: int) -> None:
        """Join one canonical event record; never raises for bad data."""
        try:
            event = CanonicalEvent.model_validate_json(raw)
        except ValidationError as exc:
            await dead_letter(self.emit, self.topics, "join", raw, exc)
            return
        await self.apply(event, partition, offset)
        self.processed += 1

    async def apply(self, event: CanonicalEvent, partition: int, offset: int) -> None:
        """Apply the event read at ``offset`` of ``partition`` of the events topic."""
        if event.direction is Direction.INBOUND:
            await self._apply_inbound(event)
        else:
            await self._apply_outbound(event, partition, offset)

    async def _apply_inbound(self, event: CanonicalEvent) -> None:
        key = f"inbound|{event.message_key}"
        stored = self.table.get(key)
        record = EventRecord.of(event)
        # A duplicate keeps the first arrival's times: where the gateway sends no time
        # (Twilio), a retried webhook's event time is its own, later, arrival.
        received_at = event.event_time
        if stored is None:
            self.table[key] = {
                "received_at": event.received_at.timestamp(),
                "event_time": event.event_time.timestamp(),
            }
        else:
            first_arrival = datetime.fromtimestamp(stored["received_at"], tz=UTC)
            record = dataclasses.replace(record, received_at=first_arrival)
            if "event_time" in stored:  # absent from entries written before it was kept
                received_at = datetime.fromtimestamp(stored["event_time"], tz=UTC)
                record = dataclasses.replace(record, event_time=received_at)
        await self._emit_status_event(event, record)
        fact = InboundFact(
            event_id=event.event_id,
            provider=event.provider,
            message_id=event.message_id,
            sender=self.phone(event.sender).number,
            recipient=self.phone(event.recipient).number,
            device_id=event.device_id,
            sim=event.sim,
            received_at=received_at,
            sent_at=event.sender_sent_at,
            reply_to_message_id=event.reply_to_message_id,
            body_length=event.body_length,
            body_hash=event.body_hash,
            body=event.body,
        )
        await self.emit(self.topics.inbound, event.message_key, dump(fact), None)

    async def _apply_outbound(self, event: CanonicalEvent, partition: int, offset: int) -> None:
        key = event.message_key
        stored = StoredMessage.from_json(self.table.get(key), event)
        state = stored.state
        if event.event_id in state.events:
            # Seen before: a gateway's retry, or a replay after a crash or a rebalance.
            # Finish the window writes of the event if it was the last applied (a crash
            # may have cut them), and re-send the facts of every window the message ever
            # touched, as the lost original fact writes may have been any of them.
            pending = stored.pending if stored.applied_event == event.event_id else []
            moved = pending + [(c, 0) for c in stored.windows if all(c != p for p, _ in pending)]
            sequence = stored.applied_sequence
        else:
            self._note_order(partition, offset)
            before = self._contribution(state) if state.events else None
            state.add(event)
            moved = windows.changes(before, self._contribution(state))
            sequence = self._next_sequence(moved, partition, offset)
            stored.applied_event, stored.applied_sequence = event.event_id, sequence
            stored.pending = moved
            stored.windows += [c for c, sign in moved if sign and c not in stored.windows]
            self.table[key] = stored.to_json()
        await self._emit_status_event(event, state.events[event.event_id])
        await self.emit(self.topics.messages, key, dump(state.fact(self.phone)), None)
        await self._update_windows(moved, partition, sequence)

    def _note_order(self, partition: int, offset: int) -> None:
        highest = self.highest_offset.get(partition, -1)
        if offset < highest:
            self.read_out_of_order += 1
            log.info(
                "new event read after a later one of its partition (out of offset order)",
                extra={"partition": partition, "offset": offset, "highest": highest},
            )
        self.highest_offset[partition] = max(highest, offset)

    def _next_sequence(self, moved: list[windows.Change], partition: int, offset: int) -> int:
        """A number for the changes of a new event, above every change applied to their
        windows: the event's offset, unless an event read out of offset order already
        numbered a change there higher."""
        applied = [
            windows.WindowRecord.from_json(self.table.get(self._window_key(change, partition)))
            for change, sign in moved
            if sign
        ]
        return max([offset, *(record.applied[0] + 1 for record in applied)])

    def _contribution(self, state: MessageState) -> windows.Contribution | None:
        return windows.contribution(state.fact(self.phone), state.outcome(), self.window_s)

    @staticmethod
    def _window_key(change: windows.Contribution, partition: int) -> str:
        return f"window|{partition}|{int(change.window_start.timestamp())}"

    async def _update_windows(
        self, moved: list[windows.Change], partition: int, sequence: int
    ) -> None:
        for index, (change, sign) in enumerate(moved):
            epoch = int(change.window_start.timestamp())
            window_key = self._window_key(change, partition)
            stored = self.table.get(window_key)
            if sign and not self._window_open(epoch, partition):
                self.late_outcomes += 1
                log.warning(
                    "outcome later than the window lateness; not counted in failure rates",
                    extra={"window_start": change.window_start.isoformat()},
                )
                continue
            if stored is None and not sign:
                continue  # nothing counted there (a late outcome), or long expired
            record = windows.WindowRecord.from_json(stored)
            if sign and record.applied < (sequence, index):
                if stored is None:
                    self._register_window(partition, epoch)
                windows.apply(record.counts, change, sign)
                record.applied = (sequence, index)
                self.table[window_key] = record.to_json()
            facts = windows.facts_for(
                record.counts,
                change.window_start,
                self.window_s,
                partition,
                change.dimension_values,
            )
            for fact in facts:
                await self.emit(self.topics.failure_rates, windows.fact_key(fact), dump(fact), None)

    def _window_open(self, epoch: int, partition: int) -> bool:
        """Is the window within the lateness of the partition's newest outcome window?

        The watermark lives in the table, so a restarted worker judges lateness exactly
        as the one before it did. Advancing it drops the windows that closed more than
        REPLAY_MARGIN_S ago, before the watermark itself is written: a crash in between
        repeats the drop on replay.
        """
        watermark_key = f"watermark|{partition}"
        watermark = self.table.get(watermark_key) or {"epoch": None, "windows": []}
        if watermark["epoch"] is None or epoch > watermark["epoch"]:
            horizon = epoch - self.lateness_s - REPLAY_MARGIN_S
            live = [w for w in watermark["windows"] if w >= horizon]
            for stale in set(watermark["windows"]) - set(live):
                self.table.pop(f"window|{partition}|{stale}", None)
            self.table[watermark_key] = {"epoch": epoch, "windows": live}
            return True
        return bool(epoch >= watermark["epoch"] - self.lateness_s)

    def _register_window(self, partition: int, epoch: int) -> None:
        """List a new window under the watermark (before it is written) so it expires."""
        watermark_key = f"watermark|{partition}"
        watermark = self.table[watermark_key]
        if epoch not in watermark["windows"]:
            self.table[watermark_key] = {**watermark, "windows": [*watermark["windows"], epoch]}

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
