"""Ground truth of a simulation: what every message's final facts must be."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from smsradar.model import ErrorCategory, Status


@dataclass(frozen=True)
class TruthEvent:
    provider_status: str
    status: Status
    at: datetime
    error_category: ErrorCategory | None
    error_code: str | None


@dataclass(frozen=True)
class MessageTruth:
    provider: str
    message_id: str
    status: Status
    provider_status: str
    error_category: ErrorCategory | None
    device_id: str | None
    sim: str | None
    recipient: str
    recipient_country: str
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None
    read_at: datetime | None
    outcome: str | None  # delivered, failed or unknown
    outcome_at: datetime | None
    queue_latency_s: float | None
    delivery_latency_s: float | None
    total_latency_s: float | None
    events: int
    # every distinct event, as given (apply_arrivals re-times Twilio's)
    history: tuple[TruthEvent, ...] = field(default=(), compare=False, repr=False)

    @classmethod
    def of(
        cls,
        provider: str,
        message_id: str,
        device_id: str | None,
        sim: str | None,
        recipient: str,
        country: str,
        events: list[TruthEvent],
    ) -> MessageTruth:
        final = max(events, key=lambda e: (e.status.rank, e.at))

        def first(*statuses: Status) -> datetime | None:
            times = [e.at for e in events if e.status in statuses]
            return min(times) if times else None

        created = first(Status.PENDING, Status.QUEUED) or min(e.at for e in events)
        sent = first(Status.SENT)
        delivered = first(Status.DELIVERED)
        failed = first(Status.UNDELIVERED, Status.REJECTED, Status.FAILED)
        outcome, outcome_at = None, None
        if delivered is not None:
            outcome, outcome_at = "delivered", delivered
        elif failed is not None:
            outcome, outcome_at = "failed", failed
        elif final.status is Status.UNKNOWN:
            outcome, outcome_at = "unknown", final.at
        return cls(
            provider=provider,
            message_id=message_id,
            status=final.status,
            provider_status=final.provider_status,
            error_category=final.error_category,
            device_id=device_id,
            sim=sim,
            recipient=recipient,
            recipient_country=country,
            created_at=created,
            sent_at=sent,
            delivered_at=delivered,
            failed_at=failed,
            read_at=first(Status.READ),
            outcome=outcome,
            outcome_at=outcome_at,
            queue_latency_s=_between(created, sent),
            delivery_latency_s=_between(sent, delivered),
            total_latency_s=_between(created, delivered),
            events=len(events),
            history=tuple(events),
        )


@dataclass(frozen=True)
class InboundTruth:
    provider: str
    message_id: str
    sender: str
    recipient: str | None
    device_id: str | None
    sim: str | None
    received_at: datetime
    reply_to_message_id: str | None


def _between(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else (end - start).total_seconds()


def write_jsonl(path: Path, messages: list[MessageTruth], inbound: list[InboundTruth]) -> None:
    """One JSON object per line: ``{"kind": "message"|"inbound", ...fields}``."""
    with path.open("wb") as out:
        for kind, records in (("message", messages), ("inbound", inbound)):
            for record in records:
                row: dict[str, Any] = {"kind": kind, **asdict(record)}
                row.pop("history", None)
                out.write(orjson.dumps(row) + b"\n")
