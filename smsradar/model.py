"""The canonical event model every provider's webhooks are normalized into.

Domain rules live here as code (DESIGN.md, "Domain definitions"): the canonical statuses,
their lifecycle rank, which are terminal, which count as failures, and the error
categories the dashboard groups by.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Direction(StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class Status(StrEnum):
    """Canonical statuses. Outbound in lifecycle order; ``received`` is inbound."""

    PENDING = "pending"
    QUEUED = "queued"
    DISPATCHED = "dispatched"
    SENT = "sent"
    BUFFERED = "buffered"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    REJECTED = "rejected"
    FAILED = "failed"
    UNKNOWN = "unknown"
    READ = "read"
    RECEIVED = "received"

    @property
    def rank(self) -> int:
        """Lifecycle rank: a message's status never moves to a lower rank."""
        return _RANK[self]

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES or self is Status.READ

    @property
    def is_failure(self) -> bool:
        return self in FAILURE_STATUSES


FAILURE_STATUSES = frozenset({Status.UNDELIVERED, Status.REJECTED, Status.FAILED})
# The terminal outcomes of an outbound message; ``read`` can only follow ``delivered``.
TERMINAL_STATUSES = FAILURE_STATUSES | {Status.DELIVERED, Status.UNKNOWN}

_RANK: dict[Status, int] = {
    Status.PENDING: 0,
    Status.QUEUED: 1,
    Status.DISPATCHED: 2,
    Status.SENT: 3,
    Status.BUFFERED: 4,
    **{status: 5 for status in TERMINAL_STATUSES},
    Status.READ: 6,
    Status.RECEIVED: 0,
}


class ErrorCategory(StrEnum):
    """Why a message failed, grouped coarsely; the raw provider code is kept beside it."""

    INVALID_NUMBER = "invalid_number"  # number invalid, unknown or unallocated
    UNREACHABLE = "unreachable"  # recipient out of coverage, phone off
    HANDSET = "handset"  # recipient's phone has a problem
    NETWORK = "network"  # operator network problem
    EXPIRED = "expired"  # validity period ran out
    BLOCKED = "blocked"  # blacklisted, barred, premium blocked, account locked
    SPAM = "spam"  # refused as spam by the operator
    CONTENT = "content"  # empty, too long, too short, invalid content
    ROUTING = "routing"  # no route to the recipient
    ACCOUNT = "account"  # insufficient funds, invalid sender, client problems
    GATEWAY = "gateway"  # provider-side failure or timeout
    DEVICE = "device"  # sending phone: no service, radio off, no SMS permission
    DUPLICATE = "duplicate"  # provider rejected it as a duplicate
    UNSPECIFIED = "unspecified"  # failed without a reason given
    UNMAPPED = "unmapped"  # a provider code smsradar does not know yet


class CanonicalEvent(BaseModel):
    """One status event of one message, in provider-neutral form.

    ``event_time`` is the provider's timestamp for the event when it sends one (naive
    times read in the provider's configured zone), else the receiver's arrival time.
    All datetimes are timezone-aware UTC.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: str
    provider: str
    direction: Direction
    message_id: str = Field(min_length=1)
    status: Status
    provider_status: str  # the raw status/delivery code as sent, e.g. "7" or "5"
    provider_status_known: bool = True  # False: code not in the provider's documented set
    error_category: ErrorCategory | None = None
    error_code: str | None = None  # raw detail code, e.g. Smstools delivery_code_detail
    event_time: AwareDatetime
    received_at: AwareDatetime
    request_id: str
    device_id: str | None = None
    sim: str | None = None
    sender: str | None = None
    recipient: str | None = None
    reply_to_message_id: str | None = None  # inbound replies: the outbound message answered
    sender_sent_at: AwareDatetime | None = None  # inbound: when the sender's phone sent it
    body_length: int | None = None
    # The message's text as the adapter read it. The normalize stage replaces it by
    # ``body_hash`` (keyed, SMSRADAR_BODY_HASH_KEY) and keeps it only with
    # SMSRADAR_STORE_MESSAGE_BODIES: it never reaches the events topic otherwise.
    body: str | None = None
    body_hash: str | None = None

    @property
    def message_key(self) -> str:
        return message_key(self.provider, self.message_id)


def message_key(provider: str, message_id: str) -> str:
    """The Kafka key of everything about one message: partitions stay per message."""
    return f"{provider}:{message_id}"


def make_event_id(*parts: Any) -> str:
    """A deterministic id from an event's identifying fields, so gateway retries collide."""
    digest = hashlib.sha256("\x1f".join(_id_part(p) for p in parts).encode())
    return digest.hexdigest()[:32]


def _id_part(part: Any) -> str:
    if isinstance(part, datetime):
        return part.isoformat()
    return "" if part is None else str(part)
