"""A crash keeps any prefix of the table writes; replaying from the committed offset repairs it.

Faust writes a partition's table changes to one changelog partition in order and commits
a source offset only after those writes are flushed. So after ``kill -9`` the recovered
table is a prefix of the writes made, and the worker replays from an offset at or before
the first event whose writes were cut. Whatever the cut, the table and the facts must end
exactly as without a crash.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, MutableMapping
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from smsradar.model import CanonicalEvent
from smsradar.settings import Settings
from streams.join import MessageJoiner
from tests.streams.lifecycles import lifecycles

_DELETED = object()


class RecordingTable(MutableMapping[str, Any]):
    """A dict that logs every write as (offset of the event being processed, key, value)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.writes: list[tuple[int, str, Any]] = []
        self.offset = -1

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        # a stored copy, as a changelog holds a serialized value
        self.data[key] = orjson.loads(orjson.dumps(value))
        self.writes.append((self.offset, key, self.data[key]))

    def __delitem__(self, key: str) -> None:
        del self.data[key]
        self.writes.append((self.offset, key, _DELETED))

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def _replay(
    table: MutableMapping[str, Any], events: list[CanonicalEvent], first_offset: int
) -> dict[tuple[str, str], Any]:
    facts: dict[tuple[str, str], Any] = {}

    async def emit(topic: str, key: str, value: bytes, headers: Any) -> None:
        facts[(topic, key)] = orjson.loads(value)

    joiner = MessageJoiner(Settings(), table, emit)

    async def run() -> None:
        for offset in range(first_offset, len(events)):
            if isinstance(table, RecordingTable):
                table.offset = offset
            await joiner.apply(events[offset], partition=0, offset=offset)

    asyncio.run(run())
    return facts


@settings(max_examples=300, deadline=None)
@given(data=st.data(), events=lifecycles())
def test_any_crash_point_and_replay_gives_the_uncrashed_result(
    data: st.DataObject, events: list[CanonicalEvent]
) -> None:
    events = data.draw(st.permutations(events + data.draw(st.lists(st.sampled_from(events)))))
    uncrashed = RecordingTable()
    expected_facts = _replay(uncrashed, events, 0)

    surviving = data.draw(st.integers(0, len(uncrashed.writes)), label="surviving writes")
    recovered: dict[str, Any] = {}
    for _, key, value in uncrashed.writes[:surviving]:
        if value is _DELETED:
            recovered.pop(key, None)
        else:
            recovered[key] = orjson.loads(orjson.dumps(value))
    cut_event = uncrashed.writes[surviving][0] if surviving < len(uncrashed.writes) else len(events)
    committed = data.draw(st.integers(0, cut_event), label="committed offset")

    # Facts of events before the committed offset reached downstream; the rest are re-sent.
    downstream = _replay({}, events[:committed], 0)
    downstream.update(_replay(recovered, events, committed))

    assert recovered == uncrashed.data
    assert downstream == expected_facts
