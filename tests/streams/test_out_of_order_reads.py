"""A partition's events read out of offset order still give the in-order result.

Around a rebalance Faust can hand an agent a prefetched later record of a partition before
the earlier ones it then seeks back to (faust-streaming#221): some events are read ahead,
then everything from the committed offset is read again. Whatever the order, as long as
every event is read at least once, the facts must end as when read once, in order.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from smsradar.model import CanonicalEvent, ErrorCategory, Status
from smsradar.settings import Settings
from streams.join import MessageJoiner
from streams.topics import Topics
from tests.streams.lifecycles import RECIPIENTS, T0, lifecycles, outbound_event

Facts = dict[tuple[str, str], Any]


def _read(
    events: list[CanonicalEvent], order: list[int], batch_sizes: list[int] | None = None
) -> tuple[Facts, dict[str, Any]]:
    """Join ``events`` (the partition's records by offset) read in ``order`` of offsets,
    one at a time or in batches of ``batch_sizes`` (cycled)."""
    facts: Facts = {}
    table: dict[str, Any] = {}

    async def emit(topic: str, key: str, value: bytes, headers: Any) -> None:
        facts[(topic, key)] = orjson.loads(value)

    joiner = MessageJoiner(Settings(), table, emit)

    async def run() -> None:
        sizes, start = batch_sizes or [1], 0
        while start < len(order):
            size = sizes[start % len(sizes)]
            batch = [(events[offset], 0, offset) for offset in order[start : start + size]]
            await joiner.apply_batch(batch)
            start += size

    asyncio.run(run())
    # A window a message only passed through (counted, then taken back) holds zeros: read
    # in another order the message may never pass through it. Zeros are no difference.
    facts = {key: fact for key, fact in facts.items() if fact.get("total", 1)}
    windows = {
        key: counts
        for key, value in table.items()
        if key.startswith("window|")
        and (counts := {v: slots for v, slots in value["counts"].items() if any(slots)})
    }
    return facts, windows


def _read_ahead_then_again(data: st.DataObject, records: int) -> list[int]:
    """Offsets up to a drawn committed one, some later ones read ahead, then all from it."""
    offsets = list(range(records))
    committed = data.draw(st.integers(0, records), label="committed offset")
    read_ahead = data.draw(
        st.lists(st.sampled_from(offsets[committed:]), unique=True)
        if committed < records
        else st.just([]),
        label="read ahead",
    )
    return offsets[:committed] + read_ahead + offsets[committed:]


@settings(max_examples=300, deadline=None)
@given(data=st.data(), events=lifecycles())
def test_events_read_ahead_then_again_from_the_committed_offset(
    data: st.DataObject, events: list[CanonicalEvent]
) -> None:
    events = data.draw(st.permutations(events + data.draw(st.lists(st.sampled_from(events)))))
    in_order = _read(events, list(range(len(events))))
    assert _read(events, _read_ahead_then_again(data, len(events))) == in_order


@settings(max_examples=200, deadline=None)
@given(data=st.data(), events=lifecycles())
def test_events_read_ahead_then_again_in_batches(
    data: st.DataObject, events: list[CanonicalEvent]
) -> None:
    """As above, the worker taking the reads in batches of any size."""
    order = _read_ahead_then_again(data, len(events))
    sizes = data.draw(st.lists(st.integers(1, 6), min_size=1, max_size=4), label="batch sizes")
    in_order = _read(events, list(range(len(events))))
    assert _read(events, order, sizes) == in_order


def test_a_later_event_read_first_does_not_hide_the_earlier_ones() -> None:
    """The plain case the property above generalises: offsets 2, 0, 1, 2."""
    device = {"device_id": "d1", "sim": "0", "recipient": RECIPIENTS[0]}
    events = [
        outbound_event("m1", Status.PENDING, T0, None, device),
        outbound_event("m1", Status.SENT, T0 + timedelta(seconds=2), None, device),
        outbound_event(
            "m1", Status.UNDELIVERED, T0 + timedelta(seconds=9), ErrorCategory.UNREACHABLE, device
        ),
    ]
    facts, windows = _read(events, [2, 0, 1, 2])
    message = facts[(Topics.of(Settings()).messages, "smsgateway24:m1")]
    assert message["events"] == 3
    assert message["sent_at"] is not None
    assert (facts, windows) == _read(events, [0, 1, 2])
