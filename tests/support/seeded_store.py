"""A store seeded with known rows, for tests of the queries and of the dashboard.

Every number the tests expect is worked out by hand from these rows (see
tests/analytics/test_queries.py). ``seed(data_dir)`` writes them as base segments.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from analytics.queries import Filters
from analytics.relations import RELATIONS
from analytics.store import SegmentName, Store

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)  # a multiple of 30 minutes since the epoch
HOUR = timedelta(hours=1)
CURRENT = Filters(T0, T0 + HOUR)
INJECTION = "x' OR 1=1 --"


def at(minutes: float = 0, seconds: float = 0) -> datetime:
    return T0 + timedelta(minutes=minutes, seconds=seconds)


def message(
    provider: str,
    message_id: str,
    status: str,
    created_at: datetime,
    *,
    code: str,
    device: str | None = None,
    sim: str | None = None,
    country: str | None = None,
    recipient: str | None = None,
    category: str | None = None,
    error_code: str | None = None,
    queue: float | None = None,
    delivery: float | None = None,
) -> dict[str, Any]:
    """A messages row; sent_at/delivered_at/failed_at follow from the latencies."""
    sent_at = None if queue is None else created_at + timedelta(seconds=queue)
    delivered = status in ("delivered", "read")
    delivered_at = (
        sent_at + timedelta(seconds=delivery) if sent_at and delivery is not None else None
    )
    failed_at = (
        sent_at + timedelta(seconds=1)
        if sent_at and status in ("undelivered", "rejected", "failed")
        else None
    )
    terminal = status not in ("pending", "queued", "dispatched", "sent", "buffered")
    return {
        "provider": provider,
        "message_id": message_id,
        "status": status,
        "provider_status": code,
        "error_category": category,
        "error_code": error_code,
        "is_terminal": terminal,
        "device_id": device,
        "sim": sim,
        "recipient": recipient,
        "recipient_country": country,
        "created_at": created_at,
        "sent_at": sent_at,
        "delivered_at": delivered_at,
        "failed_at": failed_at,
        "read_at": (
            delivered_at + timedelta(minutes=1) if delivered_at and status == "read" else None
        ),
        "outcome_at": delivered_at or failed_at,
        "queue_latency_s": queue,
        "delivery_latency_s": delivery if delivered else None,
        "total_latency_s": (
            queue + delivery if delivered and queue is not None and delivery is not None else None
        ),
        "events": 3,
        "last_event_at": delivered_at or failed_at or sent_at or created_at,
    }


SGW, ST = "smsgateway24", "smstools"
MESSAGES = [
    # the current period [T0, T0 + 1h)
    message(SGW, "1", "delivered", at(0), code="7", device="d1", sim="0", country="NL",
            recipient="+31622222201", queue=2, delivery=4),
    message(SGW, "2", "delivered", at(10), code="7", device="d1", sim="1", country="NL",
            recipient="+31622222102", queue=1, delivery=10),
    message(ST, "a3", "read", at(20), code="1", country="BE", recipient="+32470000003",
            queue=0, delivery=2),
    message(SGW, "4", "failed", at(30), code="10", device="d2", sim="0", country="DE",
            recipient="+4915200000004", category="device", queue=3),
    message(ST, "a5", "undelivered", at(40), code="2", country="BE", recipient="+32470000005",
            category="unreachable", error_code="11", queue=0),
    message(SGW, "10", "failed", at(45), code="12", device="d1", sim="0", country="NL",
            recipient="+31622222209", category="device", queue=1),
    message(SGW, "6", "queued", at(50), code="3", device="d2", sim="1", country="NL",
            recipient="+31622222206"),
    message(ST, "a7", "unknown", at(55), code="9", recipient="0612", category="unmapped",
            queue=0),
    message(SGW, "8", "delivered", at(59, 59), code="7", device="d2", sim="0", country="DE",
            recipient="+4915200000008", queue=1, delivery=20),
    # the previous period [T0 - 1h, T0); p3 falls just before it
    message(SGW, "p1", "delivered", at(-30), code="7", device="d1", sim="0", country="NL",
            recipient="+31622222291", queue=1, delivery=8),
    message(SGW, "p2", "failed", at(-60), code="10", device="d1", sim="0", country="NL",
            recipient="+31622222292", category="device", queue=1),
    message(SGW, "p3", "delivered", at(-60, -1), code="7", device="d1", sim="0",
            country="NL", recipient="+31622222293", queue=1, delivery=50),
    # at the end of the current period: outside it; and one two days old
    message(SGW, "9", "delivered", at(60), code="7", device="d1", sim="0", country="NL",
            recipient="+31622222299", queue=1, delivery=100),
    message(SGW, "old", "delivered", T0 - timedelta(days=2), code="7", device="d1", sim="0",
            country="NL", recipient="+31622222288", queue=1, delivery=3),
]  # fmt: skip


def event(
    provider: str, message_id: str, status: str, event_time: datetime, code: str
) -> dict[str, Any]:
    return {
        "event_id": f"{provider}:{message_id}:{status}",
        "provider": provider,
        "message_id": message_id,
        "direction": "outbound",
        "status": status,
        "provider_status": code,
        "provider_status_known": True,
        "error_category": None,
        "error_code": None,
        "event_time": event_time,
        "received_at": event_time + timedelta(seconds=1),
        "device_id": "d1",
        "sim": "0",
    }


STATUS_EVENTS = [
    event(SGW, "1", "queued", at(0), "3"),
    event(SGW, "1", "sent", at(0, 2), "6"),
    event(SGW, "1", "delivered", at(0, 6), "7"),
    event(ST, "1", "sent", at(0, 1), "0"),  # another provider's message "1"
    event(SGW, "2", "queued", at(10), "3"),
]


def inbound(
    provider: str,
    message_id: str,
    received_at: datetime,
    reply_to: str | None,
    device: str | None = None,
) -> dict[str, Any]:
    return {
        "event_id": f"in:{provider}:{message_id}",
        "provider": provider,
        "message_id": message_id,
        "sender": "+31699999999",
        "recipient": None,
        "device_id": device,
        "sim": "0" if device else None,
        "received_at": received_at,
        "sent_at": None,
        "reply_to_message_id": reply_to,
        "body_length": 12,
    }


INBOUND = [
    inbound(SGW, "in1", at(5), "1", "d1"),  # replies to message 1
    inbound(ST, "in2", at(25), "a3"),  # replies to a3
    inbound(SGW, "in3", at(35), None, "d2"),  # not a reply
    inbound(SGW, "in4", at(40), "999", "d1"),  # to a message we do not have
    inbound(ST, "in5", at(45), "1"),  # "1" of the other provider: no match
    inbound(SGW, "in6", at(-10), "p1", "d1"),  # before the range
    inbound(SGW, "in7", at(50), "old", "d1"),  # to a message two days old
]


def window(
    start: datetime,
    dimension: str,
    value: str,
    delivered: int,
    failed: int,
    unknown: int = 0,
    partition: int = 0,
) -> dict[str, Any]:
    decided = delivered + failed
    return {
        "window_start": start,
        "window_end": start + timedelta(seconds=60),
        "dimension": dimension,
        "dimension_value": value,
        "partition": partition,
        "delivered": delivered,
        "failed": failed,
        "unknown": unknown,
        "total": delivered + failed + unknown,
        "failure_rate": failed / decided if decided else None,
    }


FAILURE_RATES = [
    window(at(0), "overall", "all", 3, 1),
    window(at(0), "overall", "all", 1, 1, unknown=1, partition=1),  # summed with the above
    window(at(1), "overall", "all", 5, 0),
    window(at(30), "overall", "all", 1, 1),
    window(at(60), "overall", "all", 9, 9),  # starts at the end: outside
    window(at(-1), "overall", "all", 9, 9),  # before the range
    window(at(0), "provider", SGW, 2, 1),
    window(at(2), "device", "d1", 0, 2),
    window(at(0), "country", "NL", 1, 0),
]


def alert(alert_id: str, state: str, started_at: datetime) -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "rule": "failure_rate_spike",
        "dimension": "device",
        "dimension_value": "d1",
        "state": state,
        "started_at": started_at,
        "resolved_at": started_at + HOUR if state == "resolved" else None,
        "failure_rate": 0.5,
        "baseline_rate": 0.05,
        "total": 40,
        "message": f"alert {alert_id}",
        "fired_at": started_at + timedelta(minutes=2),
        "peak_failure_rate": 0.6,
    }


ALERTS = [
    alert("a1", "firing", at(10)),
    alert("a2", "resolved", at(0)),
    alert("a3", "pending", at(20)),
    alert("a4", "firing", T0 - timedelta(days=1)),
]


def write_base(store: Store, name: str, rows: list[dict[str, Any]]) -> None:
    relation = RELATIONS[name]
    positioned = [{**row, "_partition": 0, "_offset": i} for i, row in enumerate(rows)]
    table = pa.Table.from_pylist(positioned, schema=relation.schema)
    created_ms = int(time.time() * 1000) - 60_000
    segment = SegmentName(0, "base", 0, max(len(rows) - 1, 0), created_ms)
    store.write_segment(relation, segment, table)


def seed(data_dir: Path) -> Store:
    """Write every relation's rows as one base segment each under ``data_dir``."""
    store = Store(data_dir)
    store.ensure()
    by_time = {
        "messages": sorted(MESSAGES, key=lambda r: r["created_at"]),
        "status_events": STATUS_EVENTS[::-1],  # out of order on purpose
        "inbound_messages": sorted(INBOUND, key=lambda r: r["received_at"]),
        "failure_rates": FAILURE_RATES,
        "alerts": ALERTS,
    }
    for name, rows in by_time.items():
        write_base(store, name, rows)
    return store
