"""Any permutation and duplication of events gives the facts of a single in-order delivery."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from smsradar.model import CanonicalEvent
from smsradar.settings import Settings
from streams.join import MessageJoiner
from tests.streams.lifecycles import lifecycles


def _final_facts(events: list[CanonicalEvent]) -> dict[tuple[str, str], Any]:
    latest: dict[tuple[str, str], Any] = {}

    async def emit(topic: str, key: str, value: bytes, headers: Any) -> None:
        latest[(topic, key)] = orjson.loads(value)

    joiner = MessageJoiner(Settings(), {}, emit)

    async def run() -> None:
        for offset, event in enumerate(events):
            await joiner.apply(event, partition=0, offset=offset)

    asyncio.run(run())
    # A window value whose messages all moved elsewhere reads 0; absent means the same.
    return {
        key: value
        for key, value in latest.items()
        if not (key[0].endswith(".failure_rates") and value["total"] == 0)
    }


@settings(max_examples=300, deadline=None)
@given(data=st.data(), events=lifecycles())
def test_permutations_and_duplicates_give_the_same_facts(
    data: st.DataObject, events: list[CanonicalEvent]
) -> None:
    in_order = _final_facts(events)
    duplicated = events + data.draw(st.lists(st.sampled_from(events), max_size=len(events)))
    shuffled = data.draw(st.permutations(duplicated))
    assert _final_facts(list(shuffled)) == in_order


@settings(max_examples=200, deadline=None)
@given(events=lifecycles())
def test_window_counts_equal_a_recount_of_final_outcomes(events: list[CanonicalEvent]) -> None:
    facts = _final_facts(events)
    messages = [v for (topic, _), v in facts.items() if topic.endswith(".messages")]
    windows = {
        (v["window_start"], v["dimension_value"]): v
        for (topic, _), v in facts.items()
        if topic.endswith(".failure_rates") and v["dimension"] == "overall"
    }
    recount: dict[datetime, list[int]] = {}
    for message in messages:
        if message["outcome_at"] is None:
            continue
        at = datetime.fromisoformat(message["outcome_at"])
        start = at.replace(second=0, microsecond=0)
        counts = recount.setdefault(start, [0, 0, 0])
        status = message["status"]
        slot = 0 if status in ("delivered", "read") else 2 if status == "unknown" else 1
        counts[slot] += 1
    emitted = {
        datetime.fromisoformat(start): [w["delivered"], w["failed"], w["unknown"]]
        for (start, _), w in windows.items()
        if w["total"] > 0
    }
    assert emitted == {start: counts for start, counts in recount.items()}
