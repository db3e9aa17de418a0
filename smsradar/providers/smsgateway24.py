"""SMSGateway24 (Android-phone gateway): delivery-status and incoming-SMS webhooks.

Both documented shapes are accepted: the Portuguese page's ``sim`` and the English page's
``channel_id``, plus ``type`` text/img with ``img_url`` on incoming messages.
"""

from __future__ import annotations

from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from smsradar.model import CanonicalEvent, Direction, ErrorCategory, Status, make_event_id
from smsradar.providers.base import (
    Adapter,
    Endpoint,
    ProviderModel,
    Webhook,
    WebhookEnvelope,
    WebhookValidationError,
    parse_provider_time,
)
from smsradar.providers.codes import Identifier, OptionalText, StatusCode, text_or_none

NAME = "smsgateway24"
INCOMING_STATUS = "5"

# status_id -> (canonical status, error category); note the documented order 1, 3, 2.
STATUS_CODES: dict[str, tuple[Status, ErrorCategory | None]] = {
    "1": (Status.PENDING, None),
    "3": (Status.QUEUED, None),
    "2": (Status.DISPATCHED, None),
    "6": (Status.SENT, None),
    "7": (Status.DELIVERED, None),
    "8": (Status.UNDELIVERED, ErrorCategory.UNSPECIFIED),
    "9": (Status.FAILED, ErrorCategory.GATEWAY),
    "10": (Status.FAILED, ErrorCategory.DEVICE),
    "11": (Status.FAILED, ErrorCategory.DEVICE),
    "12": (Status.FAILED, ErrorCategory.DEVICE),
    "100": (Status.FAILED, ErrorCategory.DEVICE),
    "101": (Status.FAILED, ErrorCategory.DEVICE),
}

CODE_MEANINGS = {
    "status_id:1": "Pending",
    "status_id:3": "Queued for sending",
    "status_id:2": "Taken by the phone",
    "status_id:5": "Incoming SMS",
    "status_id:6": "Sent by the phone",
    "status_id:7": "Delivered",
    "status_id:8": "Not delivered",
    "status_id:9": "Not sent: generic failure",
    "status_id:10": "Not sent: no service",
    "status_id:11": "Not sent: null PDU",
    "status_id:12": "Not sent: radio off",
    "status_id:100": "Not sent: not allowed (the app lacks SMS permission)",
    "status_id:101": "Not sent: not allowed (the app lacks SMS permission)",
}


class StatusWebhook(ProviderModel):
    """``webhook_for_statuses``: one status change of one outbound SMS."""

    sms_id: Identifier
    status_id: StatusCode
    status_message: OptionalText = None
    sendto: OptionalText = None
    senttime: Any = None
    sim: OptionalText = None
    channel_id: OptionalText = None  # the newer English page's name for the SIM slot
    device_id: OptionalText = None


class IncomingWebhook(ProviderModel):
    """``webhook_incoming_sms``: one SMS received by a gateway phone."""

    address: Identifier  # the sender's number, documented as int, often a string
    sms_id: OptionalText = None
    internal_id: OptionalText = None
    date: Any = None
    date_sent: Any = None
    body: OptionalText = None
    sim: OptionalText = None
    channel_id: OptionalText = None
    device_id: OptionalText = None
    device_name: OptionalText = None
    type: Literal["text", "img"] | None = None
    img_url: OptionalText = None


def _validate(model: type[ProviderModel], body: Any) -> ProviderModel:
    if not isinstance(body, dict):
        raise WebhookValidationError.single("body", "must be a JSON object")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise WebhookValidationError.from_pydantic(exc) from None


def parse_status(body: Any) -> list[Webhook]:
    webhook = _validate(StatusWebhook, body)
    assert isinstance(webhook, StatusWebhook)
    known = webhook.status_id in STATUS_CODES or webhook.status_id == INCOMING_STATUS
    return [
        Webhook(
            kind="status",
            message_id=webhook.sms_id,
            payload=body,
            unknown_code=None if known else webhook.status_id,
        )
    ]


def parse_incoming(body: Any) -> list[Webhook]:
    webhook = _validate(IncomingWebhook, body)
    assert isinstance(webhook, IncomingWebhook)
    message_id = webhook.sms_id or webhook.internal_id
    if not message_id:
        raise WebhookValidationError.single("sms_id", "sms_id or internal_id is required")
    return [Webhook(kind="incoming", message_id=message_id, payload=body)]


def normalize(envelope: WebhookEnvelope, zone: ZoneInfo) -> list[CanonicalEvent]:
    if envelope.kind == "status":
        return [_status_event(envelope, zone)]
    if envelope.kind == "incoming":
        return [_incoming_event(envelope, zone)]
    raise ValueError(f"unknown SMSGateway24 webhook kind {envelope.kind!r}")


def _status_event(envelope: WebhookEnvelope, zone: ZoneInfo) -> CanonicalEvent:
    webhook = StatusWebhook.model_validate(envelope.payload)
    code = webhook.status_id
    event_time = parse_provider_time(webhook.senttime, zone) or envelope.received_at
    sim = webhook.sim if webhook.sim is not None else webhook.channel_id
    raw_time = text_or_none(webhook.senttime) or ""
    if code == INCOMING_STATUS:
        direction, status, category, known = Direction.INBOUND, Status.RECEIVED, None, True
    elif code in STATUS_CODES:
        status, category = STATUS_CODES[code]
        direction, known = Direction.OUTBOUND, True
    else:
        direction, status, category, known = (
            Direction.OUTBOUND,
            Status.UNKNOWN,
            ErrorCategory.UNMAPPED,
            False,
        )
    return CanonicalEvent(
        event_id=make_event_id(NAME, direction, webhook.sms_id, code, None, raw_time),
        provider=NAME,
        direction=direction,
        message_id=webhook.sms_id,
        status=status,
        provider_status=code,
        provider_status_known=known,
        error_category=category,
        event_time=event_time,
        received_at=envelope.received_at,
        request_id=envelope.request_id,
        device_id=webhook.device_id,
        sim=sim,
        recipient=webhook.sendto,
    )


def _incoming_event(envelope: WebhookEnvelope, zone: ZoneInfo) -> CanonicalEvent:
    webhook = IncomingWebhook.model_validate(envelope.payload)
    message_id = webhook.sms_id or webhook.internal_id
    if not message_id:
        raise ValueError("incoming SMS without sms_id or internal_id")
    raw_time = text_or_none(webhook.date) or ""
    return CanonicalEvent(
        event_id=make_event_id(
            NAME, Direction.INBOUND, message_id, INCOMING_STATUS, None, raw_time
        ),
        provider=NAME,
        direction=Direction.INBOUND,
        message_id=message_id,
        status=Status.RECEIVED,
        provider_status=INCOMING_STATUS,
        event_time=parse_provider_time(webhook.date, zone) or envelope.received_at,
        received_at=envelope.received_at,
        request_id=envelope.request_id,
        device_id=webhook.device_id,
        sim=webhook.sim if webhook.sim is not None else webhook.channel_id,
        sender=webhook.address,
        sender_sent_at=parse_provider_time(webhook.date_sent, zone),
        body_length=len(webhook.body) if webhook.body is not None else None,
        body=webhook.body,
    )


ADAPTER = Adapter(
    name=NAME,
    kinds=("status", "incoming"),
    endpoints=(
        Endpoint(
            path="/webhooks/smsgateway24/status",
            summary="SMSGateway24 delivery status of one SMS",
            schema=StatusWebhook,
            parse=parse_status,
        ),
        Endpoint(
            path="/webhooks/smsgateway24/incoming",
            summary="SMSGateway24 incoming SMS",
            schema=IncomingWebhook,
            parse=parse_incoming,
        ),
    ),
    normalize=normalize,
    code_meanings=CODE_MEANINGS,
    status_code_field="status_id",
)
