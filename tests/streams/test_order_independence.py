"""Any permutation and duplication of events gives the facts of a single in-order delivery."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from smsradar.model import CanonicalEvent, Direction, ErrorCategory, Status, make_event_id
from smsradar.settings import Settings
from streams.join import MessageJoiner

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
OUTCOMES = [
    (Status.DELIVERED, None),
    (Status.UNDELIVERED, ErrorCategory.UNREACHABLE),
    (Status.FAILED, ErrorCategory.DEVICE),
    (Status.REJECTED, ErrorCategory.SPAM),
    (Status.UNKNOWN, None),
]
RECIPIENTS = ["+32470123456", "+31612345678", "+4915123456789", None]


def _event(
    message_id: str,
    status: Status,
    at: datetime,
    category: ErrorCategory | None,
    extra: dict[str, Any],
) -> CanonicalEvent:
    return CanonicalEvent(
        event_id=make_event_id("sim", message_id, status, at),
        provider="smsgateway24",
        direction=Direction.OUTBOUND,
        message_id=message_id,
        status=status,
        provider_status=status.value,
        error_category=category,
        event_time=at,
        received_at=at + timedelta(seconds=1),
        request_id="r",
        **extra,
    )


@st.composite
def lifecycles(draw: st.DrawFn) -> list[CanonicalEvent]:
    events: list[CanonicalEvent] = []
    for number in range(draw(st.integers(1, 6))):
        message_id = f"m{number}"
        start = T0 + timedelta(seconds=draw(st.integers(0, 600)))
        extra = {
            "device_id": draw(st.sampled_from(["d1", "d2", None])),
            "sim": draw(st.sampled_from(["0", "1", None])),
            "recipient": draw(st.sampled_from(RECIPIENTS)),
        }
        at = start
        steps = draw(
            st.lists(
                st.sampled_from([Status.PENDING, Status.QUEUED, Status.SENT]),
                min_size=1,
                max_size=3,
            )
        )
        for status in steps:
            at += timedelta(seconds=draw(st.integers(0, 90)))
            events.append(_event(message_id, status, at, None, extra))
        for _ in range(draw(st.integers(0, 2))):  # zero, one or two (corrected) outcomes
            status, category = draw(st.sampled_from(OUTCOMES))
            at += timedelta(seconds=draw(st.integers(0, 120)))
            events.append(_event(message_id, status, at, category, extra))
        if draw(st.booleans()):
            at += timedelta(seconds=draw(st.integers(0, 60)))
            events.append(_event(message_id, Status.READ, at, None, extra))
    return sorted(events, key=lambda e: (e.event_time, e.event_id))


def _final_facts(events: list[CanonicalEvent]) -> dict[tuple[str, str], Any]:
    latest: dict[tuple[str, str], Any] = {}

    async def emit(topic: str, key: str, value: bytes, headers: Any) -> None:
        latest[(topic, key)] = orjson.loads(value)

    joiner = MessageJoiner(Settings(), {}, {}, emit)

    async def run() -> None:
        for event in events:
            await joiner.apply(event, partition=0)

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
