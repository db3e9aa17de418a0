"""SMS Gateway for Android (sms-gate.app, capcom6/android-sms-gateway): webhook events.

Every event is one JSON object ``{"deviceId", "event", "id", "webhookId", "payload"}``
posted to ``/webhooks/smsgate``. ``sms:sent``, ``sms:delivered`` and ``sms:failed`` report
an outbound SMS (``messageId``, ``phoneNumber``, ``simNumber``, ``sentAt`` /
``deliveredAt`` / ``failedAt``, ``reason`` on failures); ``sms:received`` and
``sms:data-received`` an incoming one (``messageId``, ``message`` or ``data``,
``phoneNumber``, ``simNumber``, ``receivedAt``). ``system:ping`` is a heartbeat: accepted,
nothing published.

Times are ISO 8601 in the phone's local zone with its offset. ``X-Signature`` (hex
HMAC-SHA256 of the raw body followed by ``X-Timestamp``) is checked when
``SMSRADAR_SMSGATE_SIGNING_KEY`` is set, and a timestamp further than
``SMSRADAR_SMSGATE_SIGNATURE_TOLERANCE_S`` from the receiver's clock is a replay.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from smsradar.model import CanonicalEvent, Direction, ErrorCategory, Status, make_event_id
from smsradar.providers.base import (
    Adapter,
    Endpoint,
    ProviderModel,
    SignatureCheck,
    SignatureRejected,
    SignedRequest,
    Webhook,
    WebhookEnvelope,
    WebhookValidationError,
    parse_provider_time,
)
from smsradar.providers.codes import Identifier, OptionalText, text_or_none
from smsradar.settings import Settings

NAME = "smsgate"
ROUTE = "/webhooks/smsgate"
SIGNATURE_HEADER = "x-signature"
TIMESTAMP_HEADER = "x-timestamp"

STATUS_EVENTS: dict[str, Status] = {
    "sms:sent": Status.SENT,
    "sms:delivered": Status.DELIVERED,
    "sms:failed": Status.FAILED,  # not sent, or sent and not delivered
}
INCOMING_EVENTS = frozenset({"sms:received", "sms:data-received"})
HEARTBEAT_EVENTS = frozenset({"system:ping"})
# The payload field holding each status event's time.
TIME_FIELDS = {"sms:sent": "sentAt", "sms:delivered": "deliveredAt", "sms:failed": "failedAt"}

# ``reason`` of sms:failed: Android's SmsManager result names, as the app reports them.
REASON_CATEGORIES: dict[str, ErrorCategory] = {
    "RESULT_ERROR_GENERIC_FAILURE": ErrorCategory.GATEWAY,
    "RESULT_ERROR_NO_SERVICE": ErrorCategory.DEVICE,
    "RESULT_ERROR_NULL_PDU": ErrorCategory.DEVICE,
    "RESULT_ERROR_RADIO_OFF": ErrorCategory.DEVICE,
    "RESULT_ERROR_LIMIT_EXCEEDED": ErrorCategory.DEVICE,
    "RESULT_ERROR_SHORT_CODE_NOT_ALLOWED": ErrorCategory.BLOCKED,
    "RESULT_ERROR_SHORT_CODE_NEVER_ALLOWED": ErrorCategory.BLOCKED,
    "RESULT_ERROR_FDN_CHECK_FAILURE": ErrorCategory.BLOCKED,
    "RESULT_NETWORK_REJECT": ErrorCategory.NETWORK,
    "RESULT_NETWORK_ERROR": ErrorCategory.NETWORK,
    "RESULT_INVALID_SMS_FORMAT": ErrorCategory.CONTENT,
    "RESULT_INVALID_ARGUMENTS": ErrorCategory.CONTENT,
    "RESULT_INVALID_STATE": ErrorCategory.DEVICE,
    "RESULT_NO_MEMORY": ErrorCategory.DEVICE,
    "RESULT_MODEM_ERROR": ErrorCategory.DEVICE,
    "RESULT_SIM_ABSENT": ErrorCategory.DEVICE,
}

CODE_MEANINGS = {
    "event:sms:sent": "Sent by the phone",
    "event:sms:delivered": "Delivered (delivery report to the phone)",
    "event:sms:failed": "Not sent, or not delivered; see the reason",
    "event:sms:received": "Incoming SMS",
    "event:sms:data-received": "Incoming data SMS",
    "reason:RESULT_ERROR_GENERIC_FAILURE": "Generic failure",
    "reason:RESULT_ERROR_NO_SERVICE": "No service",
    "reason:RESULT_ERROR_NULL_PDU": "Null PDU",
    "reason:RESULT_ERROR_RADIO_OFF": "Radio off",
    "reason:RESULT_ERROR_LIMIT_EXCEEDED": "Sending limit exceeded on the phone",
    "reason:RESULT_ERROR_SHORT_CODE_NOT_ALLOWED": "Short code not allowed",
    "reason:RESULT_ERROR_SHORT_CODE_NEVER_ALLOWED": "Short code never allowed",
    "reason:RESULT_ERROR_FDN_CHECK_FAILURE": "Blocked by fixed dialling numbers",
    "reason:RESULT_NETWORK_REJECT": "Rejected by the network",
    "reason:RESULT_NETWORK_ERROR": "Network error",
    "reason:RESULT_INVALID_SMS_FORMAT": "Invalid SMS format",
    "reason:RESULT_INVALID_ARGUMENTS": "Invalid arguments",
    "reason:RESULT_INVALID_STATE": "Phone in an invalid state",
    "reason:RESULT_NO_MEMORY": "Phone out of memory",
    "reason:RESULT_MODEM_ERROR": "Modem error",
    "reason:RESULT_SIM_ABSENT": "No SIM",
}

EventName = Literal[
    "sms:sent", "sms:delivered", "sms:failed", "sms:received", "sms:data-received", "system:ping"
]


class StatusPayload(ProviderModel):
    messageId: Identifier
    phoneNumber: OptionalText = None
    simNumber: OptionalText = None
    sentAt: Any = None
    deliveredAt: Any = None
    failedAt: Any = None
    reason: OptionalText = None


class IncomingPayload(ProviderModel):
    messageId: Identifier  # derived from the content by the app: not unique on its own
    phoneNumber: OptionalText = None  # the sender
    simNumber: OptionalText = None
    message: OptionalText = None  # sms:received
    data: OptionalText = None  # sms:data-received, base64
    receivedAt: Any = None


class SmsGateWebhook(ProviderModel):
    """One webhook event as the app posts it."""

    deviceId: OptionalText = None
    event: EventName
    id: OptionalText = None  # the event's id
    webhookId: OptionalText = None
    payload: dict[str, Any] | None = None


def _validate(body: Any) -> tuple[SmsGateWebhook, StatusPayload | IncomingPayload | None]:
    if not isinstance(body, dict):
        raise WebhookValidationError.single("body", "must be a JSON object")
    try:
        outer = SmsGateWebhook.model_validate(body)
    except ValidationError as exc:
        raise WebhookValidationError.from_pydantic(exc) from None
    if outer.event in HEARTBEAT_EVENTS:
        return outer, None
    if outer.payload is None:
        raise WebhookValidationError.single("payload", f"{outer.event} needs a payload object")
    model = IncomingPayload if outer.event in INCOMING_EVENTS else StatusPayload
    try:
        return outer, model.model_validate(outer.payload)
    except ValidationError as exc:
        raise WebhookValidationError.from_pydantic(exc, prefix="payload") from None


def _kind(event: str) -> str:
    return "incoming" if event in INCOMING_EVENTS else "status"


def parse(body: Any) -> list[Webhook]:
    outer, payload = _validate(body)
    if payload is None:  # a heartbeat: nothing to count
        return []
    return [Webhook(kind=_kind(outer.event), message_id=payload.messageId, payload=body)]


def normalize(envelope: WebhookEnvelope, zone: ZoneInfo) -> list[CanonicalEvent]:
    outer, payload = _validate(envelope.payload)
    if payload is None:
        raise ValueError(f"{outer.event} carries no message")
    if envelope.kind != _kind(outer.event):
        raise ValueError(f"kind {envelope.kind!r} but event {outer.event!r}")
    if isinstance(payload, IncomingPayload):
        return [_incoming_event(envelope, outer, payload, zone)]
    return [_status_event(envelope, outer, payload, zone)]


def _sim(value: str | None) -> str | None:
    return value.strip() if value is not None and value.strip() else None


def _status_event(
    envelope: WebhookEnvelope, outer: SmsGateWebhook, payload: StatusPayload, zone: ZoneInfo
) -> CanonicalEvent:
    status = STATUS_EVENTS[outer.event]
    raw_time = getattr(payload, TIME_FIELDS[outer.event])
    reason = (payload.reason or "").strip() or None
    category: ErrorCategory | None = None
    if status.is_failure:
        category = (
            REASON_CATEGORIES.get(reason, ErrorCategory.UNMAPPED)
            if reason
            else ErrorCategory.UNSPECIFIED
        )
    return CanonicalEvent(
        # The recipient is part of the id: a message to several numbers reports each.
        event_id=make_event_id(
            NAME,
            Direction.OUTBOUND,
            payload.messageId,
            outer.event,
            payload.phoneNumber,
            text_or_none(raw_time),
        ),
        provider=NAME,
        direction=Direction.OUTBOUND,
        message_id=payload.messageId,
        status=status,
        provider_status=outer.event,
        error_category=category,
        error_code=reason,
        event_time=parse_provider_time(raw_time, zone) or envelope.received_at,
        received_at=envelope.received_at,
        request_id=envelope.request_id,
        device_id=outer.deviceId,
        sim=_sim(payload.simNumber),
        recipient=payload.phoneNumber,
    )


def _incoming_event(
    envelope: WebhookEnvelope, outer: SmsGateWebhook, payload: IncomingPayload, zone: ZoneInfo
) -> CanonicalEvent:
    content = payload.message if payload.message is not None else payload.data
    return CanonicalEvent(
        event_id=make_event_id(
            NAME,
            Direction.INBOUND,
            payload.messageId,
            outer.event,
            payload.phoneNumber,
            text_or_none(payload.receivedAt),
        ),
        provider=NAME,
        direction=Direction.INBOUND,
        message_id=payload.messageId,
        status=Status.RECEIVED,
        provider_status=outer.event,
        event_time=parse_provider_time(payload.receivedAt, zone) or envelope.received_at,
        received_at=envelope.received_at,
        request_id=envelope.request_id,
        device_id=outer.deviceId,
        sim=_sim(payload.simNumber),
        sender=payload.phoneNumber,
        body_length=len(content) if content is not None else None,
        body=content,
    )


# -- X-Signature / X-Timestamp ------------------------------------------------------------


def signature(signing_key: str, body: bytes, timestamp: str) -> str:
    """hex(HMAC-SHA256(signing key, raw body + X-Timestamp)), as the app signs."""
    return hmac.new(signing_key.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()


def signature_check(settings: Settings) -> SignatureCheck | None:
    """The X-Signature check, when SMSRADAR_SMSGATE_SIGNING_KEY is set.

    The timestamp is signed with the body, so an old request cannot be re-stamped: one
    outside the tolerance is a replay and rejected. Within it, an exact replay is a
    duplicate the pipeline de-duplicates by event_id.
    """
    if settings.smsgate_signing_key is None:
        return None
    signing_key = settings.smsgate_signing_key.get_secret_value()
    tolerance_s = settings.smsgate_signature_tolerance_s

    def check(request: SignedRequest) -> None:
        given = request.headers.get(SIGNATURE_HEADER, "").strip().lower()
        timestamp = request.headers.get(TIMESTAMP_HEADER, "").strip()
        if not given or not timestamp:
            raise SignatureRejected("missing X-Signature or X-Timestamp")
        if not timestamp.isdigit():
            raise SignatureRejected("X-Timestamp is not Unix seconds")
        expected = signature(signing_key, request.body, timestamp)
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise SignatureRejected("X-Signature does not match the body and X-Timestamp")
        skew_s = abs(request.received_at.timestamp() - int(timestamp))
        if skew_s > tolerance_s:
            raise SignatureRejected(
                f"X-Timestamp is {skew_s:.0f}s from the receiver's clock"
                f" (tolerance {tolerance_s}s): a replay"
            )

    return check


ADAPTER = Adapter(
    name=NAME,
    kinds=("status", "incoming"),
    endpoints=(
        Endpoint(
            path=ROUTE,
            summary="sms-gate.app (SMS Gateway for Android) webhook event",
            schema=SmsGateWebhook,
            parse=parse,
            signature=signature_check,
        ),
    ),
    normalize=normalize,
    code_meanings=CODE_MEANINGS,
    status_code_field="event",
    detail_code_field="reason",
)
