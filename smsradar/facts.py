"""The fact records the stream publishes; their JSON schemas are the contract with the sink.

Every fact is a pure function of the distinct events seen so far (no processing-time
fields), so a replay after a crash re-emits byte-identical facts under the same keys.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from smsradar.model import ErrorCategory, Status


class Fact(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MessageFact(Fact):
    """Latest state of one outbound message. Key: ``provider:message_id``."""

    provider: str
    message_id: str
    status: Status
    provider_status: str
    error_category: ErrorCategory | None
    error_code: str | None
    is_terminal: bool
    device_id: str | None
    sim: str | None
    recipient: str | None  # E.164 when a valid number, else as the gateway sent it
    recipient_country: str | None  # ISO 3166 alpha-2, from the number
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None
    read_at: datetime | None
    outcome_at: datetime | None  # when the terminal outcome happened (failure-rate window)
    queue_latency_s: float | None
    delivery_latency_s: float | None
    total_latency_s: float | None
    events: int
    last_event_at: datetime
    # The message's text (from the earliest event that carries it, for example Smstools'
    # delivery reports): its length, its keyed hash (SMSRADAR_BODY_HASH_KEY) and, only with
    # SMSRADAR_STORE_MESSAGE_BODIES, the text. Defaults: facts written before they existed.
    body_length: int | None = None
    body_hash: str | None = None
    body: str | None = None


class StatusEventFact(Fact):
    """One distinct status event. Key: ``event_id``."""

    event_id: str
    provider: str
    message_id: str
    direction: str
    status: Status
    provider_status: str
    provider_status_known: bool
    error_category: ErrorCategory | None
    error_code: str | None
    event_time: datetime
    received_at: datetime
    device_id: str | None
    sim: str | None


class InboundFact(Fact):
    """One distinct incoming SMS. Key: ``provider:message_id``."""

    event_id: str
    provider: str
    message_id: str
    sender: str | None  # E.164 when a valid number, else as the gateway sent it
    recipient: str | None
    device_id: str | None
    sim: str | None
    received_at: datetime  # when the gateway received it
    sent_at: datetime | None  # when the sender's phone sent it, where the gateway says
    reply_to_message_id: str | None
    body_length: int | None
    body_hash: str | None = None  # hex HMAC-SHA256 of the text, with SMSRADAR_BODY_HASH_KEY
    body: str | None = None  # the text, with SMSRADAR_STORE_MESSAGE_BODIES only


class FailureRateFact(Fact):
    """Outcome counts of one window × dimension value, as seen by one source partition.

    Key: ``window_start|dimension|dimension_value|partition``. A message lives on one
    partition, so summing the partitions' latest values gives the window's counts.
    """

    window_start: datetime
    window_end: datetime
    dimension: str
    dimension_value: str
    partition: int
    delivered: int
    failed: int
    unknown: int
    total: int
    # failed / (delivered + failed); None without decided outcomes and for error_category
    # rows, which count failures only.
    failure_rate: float | None


class AlertFact(Fact):
    """One alert occurrence in its latest state. Key: ``alert_id``.

    Written by the alerting stage when an alert fires and when it resolves (state
    ``firing`` or ``resolved``); a pending spike that does not last is not an alert.
    """

    alert_id: str
    rule: str
    dimension: str
    dimension_value: str
    state: str
    started_at: datetime
    resolved_at: datetime | None
    failure_rate: float | None
    baseline_rate: float | None
    total: int  # decided outcomes (delivered + failed) in the rule's window at the change
    message: str
    fired_at: datetime  # event time the alert fired (started_at + the rule's for_s or more)
    peak_failure_rate: float | None  # highest window rate while firing
