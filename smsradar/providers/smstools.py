"""Smstools (Belgian SMS API): one endpoint receiving a JSON array of webhook objects.

``webhook_type`` is ``delivery_report``, ``read_report`` or ``inbox_message``; numbers
arrive as strings (``"delivery_code": "1"``) and dates as naive ``YYYY-MM-DD HH:MM:SS``,
read in ``SMSRADAR_SMSTOOLS_TIMEZONE``.
"""

from __future__ import annotations

from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import RootModel, ValidationError

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

NAME = "smstools"
KINDS = ("delivery_report", "read_report", "inbox_message")

DELIVERY_CODES: dict[str, Status] = {
    "0": Status.SENT,  # submitted to the operator, no report yet
    "3": Status.BUFFERED,
    "1": Status.DELIVERED,
    "2": Status.UNDELIVERED,
    "4": Status.REJECTED,
    "5": Status.REJECTED,  # with an extended code in delivery_code_detail
    "9": Status.UNKNOWN,  # no delivery report available: not a failure
}

DETAIL_CATEGORIES: dict[str, ErrorCategory] = {
    "10": ErrorCategory.INVALID_NUMBER,
    "11": ErrorCategory.UNREACHABLE,
    "12": ErrorCategory.HANDSET,
    "13": ErrorCategory.NETWORK,
    "14": ErrorCategory.EXPIRED,
    "15": ErrorCategory.BLOCKED,
    "16": ErrorCategory.CONTENT,
    "17": ErrorCategory.ROUTING,
    "18": ErrorCategory.SPAM,
    "19": ErrorCategory.BLOCKED,
    "2000": ErrorCategory.ACCOUNT,
    "2001": ErrorCategory.CONTENT,
    "2002": ErrorCategory.CONTENT,
    "2003": ErrorCategory.GATEWAY,
    "2004": ErrorCategory.GATEWAY,
    "2005": ErrorCategory.ACCOUNT,
    "2006": ErrorCategory.INVALID_NUMBER,
    "4000": ErrorCategory.UNSPECIFIED,
    "4001": ErrorCategory.CONTENT,
    "4002": ErrorCategory.ACCOUNT,
    "4003": ErrorCategory.BLOCKED,
    "4004": ErrorCategory.BLOCKED,
    "4005": ErrorCategory.GATEWAY,
    "4006": ErrorCategory.DUPLICATE,
    "4007": ErrorCategory.CONTENT,
}

CODE_MEANINGS = {
    "delivery_code:0": "Submitted: at the operator, no delivery report yet",
    "delivery_code:1": "Delivered",
    "delivery_code:2": "Not delivered (out of coverage, network problem, abroad)",
    "delivery_code:3": "Buffered: at the operator, not yet at the recipient",
    "delivery_code:4": "Rejected by the operator",
    "delivery_code:5": "Rejected, see the extended detail code",
    "delivery_code:9": "Unknown: no delivery report available",
    "delivery_code_detail:10": "Recipient number invalid or unknown",
    "delivery_code_detail:11": "Recipient temporarily out of the operator's coverage",
    "delivery_code_detail:12": "Problem with the handset",
    "delivery_code_detail:13": "Problem with the operator's network",
    "delivery_code_detail:14": "Message expired, reason unknown",
    "delivery_code_detail:15": "Recipient is blacklisted",
    "delivery_code_detail:16": "Problem with the message content",
    "delivery_code_detail:17": "Recipient cannot be routed",
    "delivery_code_detail:18": "Refused by the operator as spam",
    "delivery_code_detail:19": "Subscriber cannot receive premium messages",
    "delivery_code_detail:2000": "Insufficient funds",
    "delivery_code_detail:2001": "Message too long",
    "delivery_code_detail:2002": "Message too short",
    "delivery_code_detail:2003": "Timeout",
    "delivery_code_detail:2004": "Gateway issues",
    "delivery_code_detail:2005": "Invalid sender",
    "delivery_code_detail:2006": "Invalid number",
    "delivery_code_detail:4000": "Unknown",
    "delivery_code_detail:4001": "Empty message",
    "delivery_code_detail:4002": "Empty client",
    "delivery_code_detail:4003": "Locked",
    "delivery_code_detail:4004": "Blocked",
    "delivery_code_detail:4005": "Job failed",
    "delivery_code_detail:4006": "Duplicate",
    "delivery_code_detail:4007": "Invalid content",
}


class DeliveryMessage(ProviderModel):
    messageid: Identifier
    datetime: Any = None
    sender: OptionalText = None
    receiver: OptionalText = None
    reference: OptionalText = None
    content: OptionalText = None
    delivery_code: StatusCode
    delivery_status: OptionalText = None
    delivery_code_detail: OptionalText = None
    delivery_code_detail_description: OptionalText = None


class ReadMessage(ProviderModel):
    messageid: Identifier
    datetime: Any = None
    sender: OptionalText = None
    receiver: OptionalText = None
    content: OptionalText = None
    read_status: OptionalText = None
    read_datetime: Any = None


class InboxMessage(ProviderModel):
    id: Identifier
    date: Any = None
    sender: OptionalText = None
    receiver: OptionalText = None
    content: OptionalText = None
    type: OptionalText = None  # "sms" or "whatsapp"


class Reply(ProviderModel):
    reply: bool | str | None = None
    orig_messageid: OptionalText = None


class SmstoolsWebhook(ProviderModel):
    """One object of the array Smstools posts."""

    webhook_id: OptionalText = None
    webhook_type: Literal["delivery_report", "read_report", "inbox_message"]
    username: OptionalText = None
    message: dict[str, Any]
    isreply: Reply | None = None


class SmstoolsBody(RootModel[list[SmstoolsWebhook]]):
    """The request body: a JSON array of one or more webhook objects."""


MESSAGE_MODELS: dict[str, type[ProviderModel]] = {
    "delivery_report": DeliveryMessage,
    "read_report": ReadMessage,
    "inbox_message": InboxMessage,
}


def _detail_code(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    return value.strip()


def parse(body: Any) -> list[Webhook]:
    objects = [body] if isinstance(body, dict) else body
    if not isinstance(objects, list):
        raise WebhookValidationError.single("body", "must be a JSON array of webhook objects")
    if not objects:
        raise WebhookValidationError.single("body", "must hold at least one webhook object")
    webhooks, errors = [], []
    for index, item in enumerate(objects):
        try:
            webhooks.append(_parse_one(item, index))
        except WebhookValidationError as exc:
            errors.extend(exc.errors)
    if errors:
        raise WebhookValidationError(errors)
    return webhooks


def _parse_one(item: Any, index: int) -> Webhook:
    if not isinstance(item, dict):
        raise WebhookValidationError.single(str(index), "must be a JSON object")
    try:
        outer = SmstoolsWebhook.model_validate(item)
    except ValidationError as exc:
        raise WebhookValidationError.from_pydantic(exc, prefix=str(index)) from None
    try:
        message = MESSAGE_MODELS[outer.webhook_type].model_validate(outer.message)
    except ValidationError as exc:
        raise WebhookValidationError.from_pydantic(exc, prefix=f"{index}.message") from None
    unknown_code = None
    if isinstance(message, DeliveryMessage) and message.delivery_code not in DELIVERY_CODES:
        unknown_code = message.delivery_code
    return Webhook(outer.webhook_type, _message_id(message), item, unknown_code)


def _message_id(message: ProviderModel) -> str:
    if isinstance(message, InboxMessage):
        return message.id
    assert isinstance(message, DeliveryMessage | ReadMessage)
    return message.messageid


def normalize(envelope: WebhookEnvelope, zone: ZoneInfo) -> list[CanonicalEvent]:
    outer = SmstoolsWebhook.model_validate(envelope.payload)
    if outer.webhook_type != envelope.kind:
        raise ValueError(f"kind {envelope.kind!r} but webhook_type {outer.webhook_type!r}")
    message = MESSAGE_MODELS[outer.webhook_type].model_validate(outer.message)
    if isinstance(message, DeliveryMessage):
        return [_delivery_event(envelope, message, zone)]
    if isinstance(message, ReadMessage):
        return [_read_event(envelope, message, zone)]
    assert isinstance(message, InboxMessage)
    return [_inbox_event(envelope, message, outer.isreply, zone)]


def _delivery_event(
    envelope: WebhookEnvelope, message: DeliveryMessage, zone: ZoneInfo
) -> CanonicalEvent:
    code = message.delivery_code
    detail = _detail_code(message.delivery_code_detail)
    known = code in DELIVERY_CODES
    status = DELIVERY_CODES.get(code, Status.UNKNOWN)
    category: ErrorCategory | None = None
    if not known:
        category = ErrorCategory.UNMAPPED
    elif status.is_failure:
        category = (
            DETAIL_CATEGORIES.get(detail, ErrorCategory.UNMAPPED)
            if detail
            else ErrorCategory.UNSPECIFIED
        )
    raw_time = text_or_none(message.datetime) or ""
    return CanonicalEvent(
        event_id=make_event_id(NAME, Direction.OUTBOUND, message.messageid, code, detail, raw_time),
        provider=NAME,
        direction=Direction.OUTBOUND,
        message_id=message.messageid,
        status=status,
        provider_status=code,
        provider_status_known=known,
        error_category=category,
        error_code=detail,
        event_time=parse_provider_time(message.datetime, zone) or envelope.received_at,
        received_at=envelope.received_at,
        request_id=envelope.request_id,
        sender=message.sender,
        recipient=message.receiver,
        body_length=len(message.content) if message.content is not None else None,
        body=message.content,
    )


def _read_event(envelope: WebhookEnvelope, message: ReadMessage, zone: ZoneInfo) -> CanonicalEvent:
    raw_time = text_or_none(message.read_datetime or message.datetime) or ""
    event_time = (
        parse_provider_time(message.read_datetime, zone)
        or parse_provider_time(message.datetime, zone)
        or envelope.received_at
    )
    return CanonicalEvent(
        event_id=make_event_id(NAME, Direction.OUTBOUND, message.messageid, "read", None, raw_time),
        provider=NAME,
        direction=Direction.OUTBOUND,
        message_id=message.messageid,
        status=Status.READ,
        provider_status=message.read_status or "read",
        event_time=event_time,
        received_at=envelope.received_at,
        request_id=envelope.request_id,
        sender=message.sender,
        recipient=message.receiver,
    )


def _inbox_event(
    envelope: WebhookEnvelope, message: InboxMessage, reply: Reply | None, zone: ZoneInfo
) -> CanonicalEvent:
    raw_time = text_or_none(message.date) or ""
    is_reply = reply is not None and reply.reply not in (None, False, "", "false", "0")
    return CanonicalEvent(
        event_id=make_event_id(NAME, Direction.INBOUND, message.id, "inbox", None, raw_time),
        provider=NAME,
        direction=Direction.INBOUND,
        message_id=message.id,
        status=Status.RECEIVED,
        provider_status="inbox",
        event_time=parse_provider_time(message.date, zone) or envelope.received_at,
        received_at=envelope.received_at,
        request_id=envelope.request_id,
        sender=message.sender,
        recipient=message.receiver,
        reply_to_message_id=reply.orig_messageid if is_reply and reply else None,
        body_length=len(message.content) if message.content is not None else None,
        body=message.content,
    )


ADAPTER = Adapter(
    name=NAME,
    kinds=KINDS,
    endpoints=(
        Endpoint(
            path="/webhooks/smstools",
            summary="Smstools webhooks: a JSON array of delivery, read and inbox reports",
            schema=SmstoolsBody,
            parse=parse,
        ),
    ),
    normalize=normalize,
    code_meanings=CODE_MEANINGS,
    status_code_field="delivery_code",
    detail_code_field="delivery_code_detail",
)
