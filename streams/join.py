"""The join: canonical events -> per-message state -> facts.

Free of Faust so it can be tested with a plain dict: ``table`` is one Faust table in the
worker, holding

    "<provider>:<message id>"       message state (MessageState.to_json + replay marker)
    "inbound|<provider>:<id>"       first arrival of an inbound message
    "window|<partition>|<epoch>"    windows.WindowRecord of one failure-rate window
    "watermark|<partition>"         newest outcome window of the partition and its live windows
    "journal|<partition>"           messages of a batch whose window writes may be unfinished

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
lose it. A partition's events are read from several topics besides (every webhook
topic, and the events topic: ``streams.webhook_join``), in any interleaving. Change
numbers only have to grow in the order changes are written to a window.

Every processed event re-emits the current facts it touches, even when it changed
nothing (a duplicate): a worker that crashed after its table write but before its fact
writes were flushed re-emits them when the events are replayed. Facts are keyed, so
downstream keeps one row per key.

Events are joined in batches (``apply_batch``): a batch's table writes are coalesced to
the last value per key and its facts to the last value per fact key (``streams.batch``).
Writes reach the changelog per partition in this order: message states, expired windows
dropped, the watermark, window records. A message's ``pending`` holds the window changes
of *all* its events in the batch, each tagged with its event id, so whichever prefix of
the batch's writes survives a crash, replaying the batch's events (from the committed
offset, in any new batching) finishes exactly the window writes that were lost.

That holds as long as the replayed event reaches its windows before any newer change
does. Nothing orders a replay before new events, though: after a restart a later record,
or one of another topic, can come first (see above). So a batch journals its messages: before its
writes to a partition it writes ``journal|<partition>``, the keys of the messages whose
window changes it applies, and deletes it after them. A journal found in the table means
a crash cut a batch short; the next batch of that partition first finishes those
messages' pending changes, before any new change can be numbered above them.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from smsradar.facts import InboundFact, StatusEventFact
from smsradar.model import CanonicalEvent, Direction
from smsradar.settings import Settings
from streams import windows
from streams.batch import FactBuffer, WriteBehind
from streams.phones import PhoneNumbers
from streams.state import EventRecord, MessageState
from streams.topics import Emit, Topics, dead_letter

log = logging.getLogger("smsradar.streams")


# Window records are kept this long (event time) after they close to late outcomes, so that
# a replay after a crash can still re-send their final counts.
REPLAY_MARGIN_S = 3600


@dataclass(frozen=True)
class PendingChange:
    """A window change an event caused, as its message remembers it until the window has it.

    ``sequence`` numbers the event's changes (``index`` is the change's place among them):
    the window records the highest (sequence, index) applied to it.
    """

    event_id: str
    sequence: int
    index: int
    change: windows.Contribution
    sign: int

    def to_json(self) -> list[Any]:
        return [self.event_id, self.sequence, self.index, self.change.to_json(), self.sign]

    @classmethod
    def from_json(cls, row: list[Any]) -> PendingChange:
        event_id, sequence, index, change, sign = row
        return cls(event_id, sequence, index, windows.Contribution.from_json(change), sign)


def _write_rank(key: str, deleted: bool) -> int:
    """Changelog order of a batch's writes within a partition (see the module docstring)."""
    if key.startswith("window|"):
        return 1 if deleted else 3
    if key.startswith("watermark|"):
        return 2
    return 0


def _journal_key(partition: int) -> str:
    return f"journal|{partition}"


def _stay(partition: int) -> None:
    """Table writes need no partition context (a plain dict in tests)."""


@dataclass
class _Batch:
    table: WriteBehind
    facts: FactBuffer = field(default_factory=FactBuffer)
    # messages whose state this batch wrote, and the pending changes of replayed events
    # re-applied before the first such write (the write must keep them pending)
    written: set[str] = field(default_factory=set)
    carried: dict[str, list[PendingChange]] = field(default_factory=dict)
    # per partition: messages whose window changes this batch applies (the journal), and
    # whether the journal a crashed batch left has been looked for
    journal: dict[int, set[str]] = field(default_factory=dict)
    recovered: set[int] = field(default_factory=set)
    # window rows ((start, partition), dimension, value) whose facts the batch emits, with
    # their counts as last seen: built once at the end, not at every event that touched them
    window_facts: dict[tuple[tuple[datetime, int], str, str], windows.WindowEntry] = field(
        default_factory=dict
    )

    def carry(self, key: str, pending: list[PendingChange]) -> None:
        """Keep ``pending`` in the message's next state write: this batch applies them."""
        if key not in self.written:
            carried = self.carried.setdefault(key, [])
            carried += [change for change in pending if change not in carried]

    def journal_for(self, partition: int) -> set[str]:
        return self.journal.setdefault(partition, set())


@dataclass
class StoredMessage:
    """A message's table entry: its state, and what makes re-applying an event a no-op.

    ``pending`` are the window changes of the events of the last batch that changed the
    state (written before the windows); ``windows`` every window contribution the message
    was ever counted or uncounted in.
    """

    state: MessageState
    pending: list[PendingChange] = field(default_factory=list)
    windows: list[windows.Contribution] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None, event: CanonicalEvent) -> StoredMessage:
        if data is None:
            return cls(MessageState(event.provider, event.message_id))
        return cls.stored(data)

    @classmethod
    def stored(cls, data: dict[str, Any]) -> StoredMessage:
        return cls(
            MessageState.from_json(data),
            _pending_from_json(data),
            [windows.Contribution.from_json(row) for row in data["windows"]],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            **self.state.to_json(),
            "pending": [change.to_json() for change in self.pending],
            "windows": [contribution.to_json() for contribution in self.windows],
        }


def _pending_from_json(data: dict[str, Any]) -> list[PendingChange]:
    rows: list[Any] = data["pending"]
    if rows and len(rows[0]) == 2:
        # [change, sign] rows, written by the unbatched join: all of one event's changes,
        # that event and its number kept beside them (before that, its offset numbered them)
        event_id = data.get("applied_event") or ""
        sequence = data.get("applied_sequence", data.get("applied_offset", -1))
        return [
            PendingChange(event_id, sequence, index, change, sign)
            for index, (change, sign) in enumerate(windows.changes_from_json(rows))
        ]
    return [PendingChange.from_json(row) for row in rows]


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

    async def handle_batch(
        self,
        records: Sequence[tuple[bytes, int, int]],
        enter_partition: Callable[[int], None] = _stay,
    ) -> None:
        """Join canonical event records (value, partition, offset); never raises for bad data.

        ``enter_partition(p)`` is called before the table reads and writes of an event of
        partition ``p``: the worker points Faust's table at that partition there (its
        changelog partition and, with RocksDB, the partition's database).
        """
        events = []
        for raw, partition, offset in records:
            try:
                events.append((CanonicalEvent.model_validate_json(raw), partition, offset))
            except ValidationError as exc:
                await dead_letter(self.emit, self.topics, "join", raw, exc)
        await self.apply_batch(events, enter_partition)
        self.processed += len(events)

    async def handle(self, raw: bytes, partition: int, offset: int) -> None:
        """Join one canonical event record; never raises for bad data."""
        await self.handle_batch([(raw, partition, offset)])

    async def apply(self, event: CanonicalEvent, partition: int, offset: int) -> None:
        """Apply the event read at ``offset`` of ``partition`` of the events topic."""
        await self.apply_batch([(event, partition, offset)])

    async def apply_batch(
        self,
        events: Sequence[tuple[CanonicalEvent, int, int]],
        enter_partition: Callable[[int], None] = _stay,
    ) -> None:
        """Apply events (event, partition, offset) in the order read."""
        batch = _Batch(WriteBehind(self.table, enter_partition))
        for event, partition, offset in events:
            batch.table.enter(partition)
            if partition not in batch.recovered:
                self._finish_interrupted_batch(batch, partition)
            if event.direction is Direction.INBOUND:
                self._apply_inbound(batch, event)
            else:
                self._apply_outbound(batch, event, partition, offset)
        journals = {
            partition: (_journal_key(partition), sorted(keys))
            for partition, keys in batch.journal.items()
        }
        batch.table.flush(_write_rank, journals)
        self._put_failure_rate_facts(batch)
        await batch.facts.emit_to(self.emit)

    def _finish_interrupted_batch(self, batch: _Batch, partition: int) -> None:
        """Finish the window changes of a batch a crash cut short (its journal is left)."""
        batch.recovered.add(partition)
        keys: list[str] = batch.table.get(_journal_key(partition)) or []
        if not keys:
            return
        journal = batch.journal_for(partition)  # written, then deleted: the left one with it
        log.info(
            "finishing the window writes of a batch cut short",
            extra={"partition": partition, "messages": len(keys)},
        )
        unfinished: list[tuple[PendingChange, str]] = []
        for key in keys:
            data = batch.table.get(key)
            if data is not None:  # else its state write was cut too: its events are replayed
                unfinished += [(change, key) for change in StoredMessage.stored(data).pending]
        # in the order they were numbered: a window takes a change numbered above its last
        unfinished.sort(key=lambda item: (item[0].sequence, item[0].index))
        for change, key in unfinished:
            if self._update_windows(batch, [change], partition):
                batch.carry(key, [change])
                journal.add(key)

    def _apply_inbound(self, batch: _Batch, event: CanonicalEvent) -> None:
        key = f"inbound|{event.message_key}"
        stored = batch.table.get(key)
        record = EventRecord.of(event)
        # A duplicate keeps the first arrival's times: where the gateway sends no time
        # (Twilio), a retried webhook's event time is its own, later, arrival.
        received_at = event.event_time
        if stored is None:
            batch.table[key] = {
                "received_at": event.received_at.timestamp(),
                "event_time": event.event_time.timestamp(),
            }
        else:
            first_arrival = datetime.fromtimestamp(stored["received_at"], tz=UTC)
            record = dataclasses.replace(record, received_at=first_arrival)
            if "event_time" in stored:  # absent from entries written before it was kept
                received_at = datetime.fromtimestamp(stored["event_time"], tz=UTC)
                record = dataclasses.replace(record, event_time=received_at)
        self._emit_status_event(batch, event, record)
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
        batch.facts.put(self.topics.inbound, event.message_key, fact)

    def _apply_outbound(
        self, batch: _Batch, event: CanonicalEvent, partition: int, offset: int
    ) -> None:
        key = event.message_key
        stored = StoredMessage.from_json(batch.table.get(key), event)
        state = stored.state
        if event.event_id in state.events:
            # Seen before: a gateway's retry, or a replay after a crash or a rebalance.
            # Finish the window writes of the event if its batch was the last to change the
            # message (a crash may have cut them), and re-send the facts of every window the
            # message ever touched, as the lost original fact writes may have been any of them.
            replayed = [p for p in stored.pending if p.event_id == event.event_id]
            batch.carry(key, replayed)
            fact = state.fact(self.phone)
            self._update_windows(batch, replayed, partition)
            replayed_changes = {p.change for p in replayed}
            self._emit_window_facts(
                batch, [c for c in stored.windows if c not in replayed_changes], partition
            )
        else:
            before = self._contribution(state) if state.events else None
            state.add(event)
            fact = state.fact(self.phone)
            after = windows.contribution(fact, state.outcome(), self.window_s)
            moved = windows.changes(before, after)
            sequence = self._next_sequence(batch.table, moved, partition, offset)
            changes = [
                PendingChange(event.event_id, sequence, index, change, sign)
                for index, (change, sign) in enumerate(moved)
            ]
            if key not in batch.written:
                batch.written.add(key)
                stored.pending = batch.carried.pop(key, [])
            stored.pending += changes
            stored.windows += [c for c, sign in moved if sign and c not in stored.windows]
            batch.table[key] = stored.to_json()
            self._update_windows(batch, changes, partition)
        batch.journal_for(partition).add(key)
        self._emit_status_event(batch, event, state.events[event.event_id])
        batch.facts.put(self.topics.messages, key, fact)

    def _next_sequence(
        self,
        table: MutableMapping[str, Any],
        moved: list[windows.Change],
        partition: int,
        offset: int,
    ) -> int:
        """A number for the changes of a new event, above every change applied to their
        windows: the event's offset, unless an event read out of offset order, or from
        another topic, already numbered a change there higher."""
        applied = [
            windows.WindowRecord.applied_of(table.get(self._window_key(change, partition)))
            for change, sign in moved
            if sign
        ]
        return max([offset, *(number + 1 for number, _ in applied)])

    def _contribution(self, state: MessageState) -> windows.Contribution | None:
        outcome = state.outcome()
        # Most messages have no outcome before their new event: no fact needed to say so.
        if outcome is None:
            return None
        return windows.contribution(state.fact(self.phone), outcome, self.window_s)

    @staticmethod
    def _window_key(change: windows.Contribution, partition: int) -> str:
        return f"window|{partition}|{int(change.window_start.timestamp())}"

    def _update_windows(
        self, batch: _Batch, changes: list[PendingChange], partition: int
    ) -> list[PendingChange]:
        """Apply the changes their windows do not have yet, and emit those windows' facts;
        returns the changes applied."""
        table = batch.table
        applied: list[PendingChange] = []
        for pending in changes:
            change, sign = pending.change, pending.sign
            epoch = int(change.window_start.timestamp())
            window_key = self._window_key(change, partition)
            stored = table.get(window_key)
            if sign and not self._window_open(table, epoch, partition):
                self.late_outcomes += 1
                log.warning(
                    "outcome later than the window lateness; not counted in failure rates",
                    extra={"window_start": change.window_start.isoformat()},
                )
                continue
            if stored is None and not sign:
                continue  # nothing counted there (a late outcome), or long expired
            number = (pending.sequence, pending.index)
            if sign and windows.WindowRecord.applied_of(stored) < number:
                if stored is None:
                    self._register_window(table, partition, epoch)
                record = windows.WindowRecord.from_json(stored)
                windows.apply(record.counts, change, sign)
                record.applied = number
                table[window_key] = record.to_json()
                applied.append(pending)
            else:
                assert stored is not None  # an absent window (applied (-1, -1)) takes any change
                record = windows.WindowRecord.read_only(stored)
            self._put_window_facts(batch, record, change, partition)
        return applied

    def _emit_window_facts(
        self, batch: _Batch, contributions: list[windows.Contribution], partition: int
    ) -> None:
        """Re-send the facts of windows a message was counted in (if still kept)."""
        for change in contributions:
            stored = batch.table.get(self._window_key(change, partition))
            if stored is not None:
                record = windows.WindowRecord.read_only(stored)
                self._put_window_facts(batch, record, change, partition)

    def _put_window_facts(
        self,
        batch: _Batch,
        record: windows.WindowRecord,
        change: windows.Contribution,
        partition: int,
    ) -> None:
        window = (change.window_start, partition)
        for dimension, value in change.dimension_values:
            batch.window_facts[(window, dimension, value)] = record.counts

    def _put_failure_rate_facts(self, batch: _Batch) -> None:
        """The facts of the window rows the batch touched, from their last counts."""
        for ((start, partition), dimension, value), counts in batch.window_facts.items():
            fact = windows.fact_for(counts, start, self.window_s, partition, dimension, value)
            batch.facts.put(self.topics.failure_rates, windows.fact_key(fact), fact)

    def _window_open(self, table: MutableMapping[str, Any], epoch: int, partition: int) -> bool:
        """Is the window within the lateness of the partition's newest outcome window?

        The watermark lives in the table, so a restarted worker judges lateness exactly
        as the one before it did. Advancing it drops the windows that closed more than
        REPLAY_MARGIN_S ago, before the watermark itself is written: a crash in between
        repeats the drop on replay.
        """
        watermark_key = f"watermark|{partition}"
        watermark = table.get(watermark_key) or {"epoch": None, "windows": []}
        if watermark["epoch"] is None or epoch > watermark["epoch"]:
            horizon = epoch - self.lateness_s - REPLAY_MARGIN_S
            live = [w for w in watermark["windows"] if w >= horizon]
            for stale in set(watermark["windows"]) - set(live):
                table.pop(f"window|{partition}|{stale}", None)
            table[watermark_key] = {"epoch": epoch, "windows": live}
            return True
        return bool(epoch >= watermark["epoch"] - self.lateness_s)

    def _register_window(self, table: MutableMapping[str, Any], partition: int, epoch: int) -> None:
        """List a new window under the watermark (before it is written) so it expires.

        Listed in order: a replay after a crash may register windows in another order, and
        the table must end up the same as without the crash."""
        watermark_key = f"watermark|{partition}"
        watermark = table[watermark_key]
        if epoch not in watermark["windows"]:
            live = sorted([*watermark["windows"], epoch])
            table[watermark_key] = {**watermark, "windows": live}

    def _emit_status_event(self, batch: _Batch, event: CanonicalEvent, record: EventRecord) -> None:
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
        batch.facts.put(self.topics.status_events, event.event_id, fact)
