"""Tumbling failure-rate windows by outcome time, per dimension.

A message counts once, in the window of its terminal outcome, under each dimension value
it has. When its outcome changes (a late report, a gateway correcting itself) its old
contribution is taken back and the new one added, so counts always equal a recount of
the messages' current outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from smsradar.facts import FailureRateFact, MessageFact
from streams.state import DELIVERED, FAILED, UNKNOWN, Outcome

DIMENSIONS = ("overall", "provider", "device", "sim", "country", "error_category")
_SLOT = {DELIVERED: 0, FAILED: 1, UNKNOWN: 2}
_SEPARATOR = "\x1f"

# window entry: "dimension<US>value" -> [delivered, failed, unknown]
WindowEntry = dict[str, list[int]]


@dataclass(frozen=True)
class Contribution:
    window_start: datetime
    kind: str
    dimension_values: tuple[tuple[str, str], ...]

    def to_json(self) -> list[Any]:
        return [
            int(self.window_start.timestamp()),
            self.kind,
            [list(v) for v in self.dimension_values],
        ]

    @classmethod
    def from_json(cls, row: list[Any]) -> Contribution:
        epoch, kind, values = row
        return cls(datetime.fromtimestamp(epoch, tz=UTC), kind, tuple((d, v) for d, v in values))


# A contribution added (+1), taken back (-1), or unchanged (0: only its counts re-emitted).
Change = tuple[Contribution, int]


def changes(before: Contribution | None, after: Contribution | None) -> list[Change]:
    """What moving a message from contribution ``before`` to ``after`` does to windows."""
    if before == after:
        return [] if after is None else [(after, 0)]
    moved: list[Change] = []
    if before is not None:
        moved.append((before, -1))
    if after is not None:
        moved.append((after, +1))
    return moved


def changes_to_json(moved: list[Change]) -> list[Any]:
    return [[change.to_json(), sign] for change, sign in moved]


def changes_from_json(rows: list[Any]) -> list[Change]:
    return [(Contribution.from_json(change), sign) for change, sign in rows]


@dataclass
class WindowRecord:
    """A partition's window as stored: counts, and the last change applied to them.

    ``applied`` is (change number, change index within that event). Numbers grow in the
    order changes are written to a window (streams.join), so a change at or below it is
    already in the counts: this is what makes re-applying an event after a crash a no-op.
    """

    counts: WindowEntry = field(default_factory=dict)
    applied: tuple[int, int] = (-1, -1)

    def to_json(self) -> dict[str, Any]:
        return {"counts": self.counts, "applied": list(self.applied)}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> WindowRecord:
        """A record to change: its counts are a copy (an in-memory table hands out the
        stored object itself), a shallow one: ``apply`` replaces the rows it changes."""
        if data is None:
            return cls()
        return cls(dict(data["counts"]), cls.applied_of(data))

    @classmethod
    def read_only(cls, data: dict[str, Any]) -> WindowRecord:
        """A record only read: its counts are the stored ones (a window holds a count per
        dimension value, hundreds of them, and a read per event change is frequent)."""
        return cls(data["counts"], cls.applied_of(data))

    @staticmethod
    def applied_of(data: dict[str, Any] | None) -> tuple[int, int]:
        if data is None:
            return (-1, -1)
        offset, index = data["applied"]
        return (offset, index)


def window_start(at: datetime, window_s: int) -> datetime:
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % window_s, tz=UTC)


def contribution(fact: MessageFact, outcome: Outcome | None, window_s: int) -> Contribution | None:
    if outcome is None:
        return None
    values: list[tuple[str, str]] = [("overall", "all"), ("provider", fact.provider)]
    if fact.device_id is not None:
        values.append(("device", fact.device_id))
        if fact.sim is not None:
            values.append(("sim", f"{fact.device_id}/{fact.sim}"))
    values.append(("country", fact.recipient_country or "unknown"))
    if outcome.kind == FAILED:
        category = outcome.error_category.value if outcome.error_category else "unspecified"
        values.append(("error_category", category))
    return Contribution(window_start(outcome.at, window_s), outcome.kind, tuple(values))


def apply(entry: WindowEntry, change: Contribution, sign: int) -> list[tuple[str, str]]:
    """Add (sign=1) or take back (sign=-1) a contribution; returns the values touched."""
    slot = _SLOT[change.kind]
    for dimension, value in change.dimension_values:
        row = f"{dimension}{_SEPARATOR}{value}"
        # a new list, not the old one changed: the old one may be the stored window's
        counts = list(entry.get(row, (0, 0, 0)))
        counts[slot] += sign
        entry[row] = counts
    return list(change.dimension_values)


def fact_for(
    entry: WindowEntry, start: datetime, window_s: int, partition: int, dimension: str, value: str
) -> FailureRateFact:
    delivered, failed, unknown = entry.get(f"{dimension}{_SEPARATOR}{value}", [0, 0, 0])
    # Error-category rows count failures only: a rate of their own would always be 1,
    # and their share of the window's outcomes is a query over the overall row.
    decided = 0 if dimension == "error_category" else delivered + failed
    return FailureRateFact(
        window_start=start,
        window_end=start + timedelta(seconds=window_s),
        dimension=dimension,
        dimension_value=value,
        partition=partition,
        delivered=delivered,
        failed=failed,
        unknown=unknown,
        total=delivered + failed + unknown,
        failure_rate=failed / decided if decided else None,
    )


def fact_key(fact: FailureRateFact) -> str:
    return (
        f"{fact.window_start.isoformat()}|{fact.dimension}|{fact.dimension_value}|{fact.partition}"
    )
