"""Hypothesis strategies: message lifecycles as canonical events, with corrections."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from smsradar.model import CanonicalEvent, Direction, ErrorCategory, Status, make_event_id

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
OUTCOMES = [
    (Status.DELIVERED, None),
    (Status.UNDELIVERED, ErrorCategory.UNREACHABLE),
    (Status.FAILED, ErrorCategory.DEVICE),
    (Status.REJECTED, ErrorCategory.SPAM),
    (Status.UNKNOWN, None),
]
RECIPIENTS = ["+32470123456", "+31612345678", "+4915123456789", None]


def outbound_event(
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
            events.append(outbound_event(message_id, status, at, None, extra))
        for _ in range(draw(st.integers(0, 2))):  # zero, one or two (corrected) outcomes
            status, category = draw(st.sampled_from(OUTCOMES))
            at += timedelta(seconds=draw(st.integers(0, 120)))
            events.append(outbound_event(message_id, status, at, category, extra))
        if draw(st.booleans()):
            at += timedelta(seconds=draw(st.integers(0, 60)))
            events.append(outbound_event(message_id, Status.READ, at, None, extra))
    return sorted(events, key=lambda e: (e.event_time, e.event_id))
