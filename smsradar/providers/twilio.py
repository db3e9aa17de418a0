"""Twilio Programmable Messaging: message status callbacks and incoming-message webhooks.

Twilio posts ``application/x-www-form-urlencoded`` bodies (the only route that accepts
them). A status callback carries ``MessageSid``, ``MessageStatus`` (with the older
``SmsSid``/``SmsStatus`` beside them), ``ErrorCode`` on failures, ``To``, ``From``,
``AccountSid``, ``ApiVersion`` and, for some carriers, ``RawDlrDoneDate``; an incoming
message carries ``MessageSid``, ``From``, ``To``, ``Body``, ``NumMedia`` and
``SmsStatus=received``. Both may arrive at the one route ``/webhooks/twilio``: the status
tells them apart.

Twilio's callbacks carry no event time, so every event is stamped with its arrival time
(see the README's "Which timestamp means what"). ``X-Twilio-Signature`` is checked when
``SMSRADAR_TWILIO_AUTH_TOKEN`` is set.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlsplit
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
)
from smsradar.providers.codes import OptionalText
from smsradar.settings import Settings

NAME = "twilio"
ROUTE = "/webhooks/twilio"
SIGNATURE_HEADER = "x-twilio-signature"

# MessageStatus -> canonical status. "canceled" (a scheduled message withdrawn by its
# sender) is an outcome but not a delivery failure: counted apart as unknown.
STATUSES: dict[str, Status] = {
    "accepted": Status.PENDING,  # a Messaging Service took the request
    "scheduled": Status.PENDING,
    "queued": Status.QUEUED,
    "sending": Status.DISPATCHED,
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "undelivered": Status.UNDELIVERED,
    "failed": Status.FAILED,
    "read": Status.READ,
    "canceled": Status.UNKNOWN,
}
# Statuses of a message Twilio received for one of the account's numbers.
INBOUND_STATUSES = frozenset({"receiving", "received"})

# ErrorCode -> error category (Twilio's error dictionary, the 30xxx delivery errors and
# the 21xxx errors that reach status callbacks).
ERROR_CATEGORIES: dict[str, ErrorCategory] = {
    "30001": ErrorCategory.GATEWAY,
    "30002": ErrorCategory.ACCOUNT,
    "30003": ErrorCategory.UNREACHABLE,
    "30004": ErrorCategory.BLOCKED,
    "30005": ErrorCategory.INVALID_NUMBER,
    "30006": ErrorCategory.ROUTING,
    "30007": ErrorCategory.SPAM,
    "30008": ErrorCategory.UNSPECIFIED,
    "30009": ErrorCategory.NETWORK,
    "30010": ErrorCategory.ACCOUNT,
    "30017": ErrorCategory.NETWORK,
    "30019": ErrorCategory.CONTENT,
    "30022": ErrorCategory.BLOCKED,
    "30023": ErrorCategory.ACCOUNT,
    "30024": ErrorCategory.ACCOUNT,
    "30032": ErrorCategory.ACCOUNT,
    "30034": ErrorCategory.ACCOUNT,
    "21211": ErrorCategory.INVALID_NUMBER,
    "21408": ErrorCategory.ACCOUNT,
    "21610": ErrorCategory.BLOCKED,
    "21612": ErrorCategory.ROUTING,
    "21614": ErrorCategory.INVALID_NUMBER,
}

CODE_MEANINGS = {
    "MessageStatus:accepted": "Accepted by a Messaging Service, not yet queued",
    "MessageStatus:scheduled": "Scheduled for sending later",
    "MessageStatus:queued": "Queued for sending",
    "MessageStatus:sending": "Being dispatched to the carrier",
    "MessageStatus:sent": "Accepted by the carrier, no delivery receipt yet",
    "MessageStatus:delivered": "Delivered (carrier delivery receipt)",
    "MessageStatus:undelivered": "Not delivered (carrier delivery receipt), see ErrorCode",
    "MessageStatus:failed": "Failed: could not be sent, see ErrorCode",
    "MessageStatus:read": "Read by the recipient (channels with read receipts)",
    "MessageStatus:canceled": "Scheduled message canceled before sending",
    "MessageStatus:receiving": "Incoming message being received",
    "MessageStatus:received": "Incoming message received",
    "ErrorCode:30001": "Queue overflow",
    "ErrorCode:30002": "Account suspended",
    "ErrorCode:30003": "Unreachable destination handset",
    "ErrorCode:30004": "Message blocked",
    "ErrorCode:30005": "Unknown destination handset",
    "ErrorCode:30006": "Landline or unreachable carrier",
    "ErrorCode:30007": "Message filtered by the carrier",
    "ErrorCode:30008": "Unknown error",
    "ErrorCode:30009": "Missing inbound segment",
    "ErrorCode:30010": "Message price exceeds the max price",
    "ErrorCode:30017": "Carrier network congestion",
    "ErrorCode:30019": "Content size exceeds the carrier limit",
    "ErrorCode:30022": "US A2P 10DLC rate limit exceeded",
    "ErrorCode:30023": "US A2P 10DLC daily cap reached",
    "ErrorCode:30024": "Numeric sender ID not provisioned with the carrier",
    "ErrorCode:30032": "Toll-free number not verified",
    "ErrorCode:30034": "Message from an unregistered US A2P 10DLC number",
    "ErrorCode:21211": "Invalid 'To' phone number",
    "ErrorCode:21408": "Permission to send to this region not enabled",
    "ErrorCode:21610": "Recipient unsubscribed (replied STOP)",
    "ErrorCode:21612": "No route to the 'To' number",
    "ErrorCode:21614": "'To' number is not a mobile number",
}


class TwilioWebhook(ProviderModel):
    """A status callback or an incoming message, as its form fields."""

    MessageSid: OptionalText = None
    SmsSid: OptionalText = None  # older name of MessageSid, sent beside it
    SmsMessageSid: OptionalText = None  # incoming messages: older name of MessageSid
    MessageStatus: OptionalText = None
    SmsStatus: OptionalText = None  # older name of MessageStatus; the only one on inbound
    ErrorCode: OptionalText = None
    ErrorMessage: OptionalText = None
    AccountSid: OptionalText = None
    MessagingServiceSid: OptionalText = None
    ApiVersion: OptionalText = None
    From: OptionalText = None
    To: OptionalText = None
    Body: OptionalText = None
    NumMedia: OptionalText = None
    NumSegments: OptionalText = None
    # Carrier's delivery-receipt time, YYMMDDhhmm (UTC), on some delivered/undelivered.
    RawDlrDoneDate: OptionalText = None

    @property
    def message_sid(self) -> str | None:
        for value in (self.MessageSid, self.SmsSid, self.SmsMessageSid):
            if value is not None and value.strip():
                return value.strip()
        return None

    @property
    def status(self) -> str | None:
        for value in (self.MessageStatus, self.SmsStatus):
            if value is not None and value.strip():
                return value.strip().lower()
        return None

    @property
    def error_code(self) -> str | None:
        code = (self.ErrorCode or "").strip()
        return code or None


def _validate(body: Any) -> TwilioWebhook:
    if not isinstance(body, dict):
        raise WebhookValidationError.single("body", "must be form fields")
    try:
        webhook = TwilioWebhook.model_validate(body)
    except ValidationError as exc:
        raise WebhookValidationError.from_pydantic(exc) from None
    if webhook.message_sid is None:
        raise WebhookValidationError.single("MessageSid", "MessageSid or SmsSid is required")
    if webhook.status is None:
        raise WebhookValidationError.single(
            "MessageStatus", "MessageStatus or SmsStatus is required"
        )
    return webhook


def parse(body: Any) -> list[Webhook]:
    webhook = _validate(body)
    status = webhook.status
    assert status is not None and webhook.message_sid is not None
    kind = "incoming" if status in INBOUND_STATUSES else "status"
    known = status in STATUSES or status in INBOUND_STATUSES
    return [
        Webhook(
            kind=kind,
            message_id=webhook.message_sid,
            payload=body,
            unknown_code=None if known else status,
        )
    ]


def normalize(envelope: WebhookEnvelope, zone: ZoneInfo) -> list[CanonicalEvent]:
    webhook = _validate(envelope.payload)
    status = webhook.status
    expected_kind = "incoming" if status in INBOUND_STATUSES else "status"
    if envelope.kind != expected_kind:
        raise ValueError(f"kind {envelope.kind!r} but Twilio status {status!r}")
    if expected_kind == "incoming":
        return [_incoming_event(envelope, webhook)]
    return [_status_event(envelope, webhook)]


def _status_event(envelope: WebhookEnvelope, webhook: TwilioWebhook) -> CanonicalEvent:
    sid, code, error_code = webhook.message_sid, webhook.status, webhook.error_code
    assert sid is not None and code is not None
    known = code in STATUSES
    status = STATUSES.get(code, Status.UNKNOWN)
    category: ErrorCategory | None = None
    if not known:
        category = ErrorCategory.UNMAPPED
    elif status.is_failure:
        category = (
            ERROR_CATEGORIES.get(error_code, ErrorCategory.UNMAPPED)
            if error_code
            else ErrorCategory.UNSPECIFIED
        )
    return CanonicalEvent(
        # No time in the id: Twilio reports each status of a message once, and a retried
        # callback has the same fields, so it collides with the first.
        event_id=make_event_id(NAME, Direction.OUTBOUND, sid, code, error_code),
        provider=NAME,
        direction=Direction.OUTBOUND,
        message_id=sid,
        status=status,
        provider_status=code,
        provider_status_known=known,
        error_category=category,
        error_code=error_code,
        event_time=envelope.received_at,
        received_at=envelope.received_at,
        request_id=envelope.request_id,
        sender=webhook.From,
        recipient=webhook.To,
        body_length=len(webhook.Body) if webhook.Body is not None else None,
        body=webhook.Body,
    )


def _incoming_event(envelope: WebhookEnvelope, webhook: TwilioWebhook) -> CanonicalEvent:
    sid = webhook.message_sid
    assert sid is not None
    return CanonicalEvent(
        # "receiving" then "received" of one message are one arrival.
        event_id=make_event_id(NAME, Direction.INBOUND, sid, "received"),
        provider=NAME,
        direction=Direction.INBOUND,
        message_id=sid,
        status=Status.RECEIVED,
        provider_status="received",
        event_time=envelope.received_at,
        received_at=envelope.received_at,
        request_id=envelope.request_id,
        sender=webhook.From,
        recipient=webhook.To,
        body_length=len(webhook.Body) if webhook.Body is not None else None,
        body=webhook.Body,
    )


# -- X-Twilio-Signature -------------------------------------------------------------------


def form_fields(body: bytes) -> list[tuple[str, str]]:
    """The (name, value) pairs of a form-encoded body, in order; ValueError if it is not."""
    return parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))


def signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """base64(HMAC-SHA1(auth token, URL + each parameter's name and value, sorted by name))."""
    signed = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


_DEFAULT_PORTS = {"https": 443, "http": 80}


def _url_variants(url: str) -> list[str]:
    """The URL as given plus with its default port added or removed.

    Twilio signs the URL as configured; whether that spelled out :443 is not visible to
    the receiver, so both spellings are accepted (as Twilio's own helper libraries do).
    """
    parts = urlsplit(url)
    default = _DEFAULT_PORTS.get(parts.scheme)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    variants = [url]
    if parts.port is None and default is not None:
        variants.append(_with_netloc(parts, f"{prefix}{host}:{default}"))
    elif parts.port == default:
        variants.append(_with_netloc(parts, f"{prefix}{host}"))
    return variants


def _with_netloc(parts: SplitResult, netloc: str) -> str:
    return parts._replace(netloc=netloc).geturl()


def signature_check(settings: Settings) -> SignatureCheck | None:
    """The X-Twilio-Signature check, when SMSRADAR_TWILIO_AUTH_TOKEN is set.

    Twilio signs no timestamp, so a captured request stays valid: replaying it exactly is
    harmless (same fields, same event_id, de-duplicated downstream); changing any field or
    posting it to another URL breaks the signature.
    """
    if settings.twilio_auth_token is None:
        return None
    auth_token = settings.twilio_auth_token.get_secret_value()

    def check(request: SignedRequest) -> None:
        given = request.headers.get(SIGNATURE_HEADER, "").strip()
        if not given:
            raise SignatureRejected("missing X-Twilio-Signature")
        try:
            params = form_fields(request.body)
        except (UnicodeDecodeError, ValueError):
            raise SignatureRejected("body is not form-encoded UTF-8: cannot be Twilio's") from None
        for url in _url_variants(request.url):
            expected = signature(auth_token, url, params)
            if hmac.compare_digest(given.encode(), expected.encode()):
                return
        # The URL without its query: ?token= carries the webhook token, and this message is
        # logged (the URL is named so that a wrong SMSRADAR_RECEIVER_PUBLIC_URL shows).
        shown = urlsplit(request.url)._replace(query="").geturl()
        raise SignatureRejected(f"X-Twilio-Signature does not match {shown} (query not shown)")

    return check


ADAPTER = Adapter(
    name=NAME,
    kinds=("status", "incoming"),
    endpoints=(
        Endpoint(
            path=ROUTE,
            summary="Twilio message status callback or incoming message (form-encoded)",
            schema=TwilioWebhook,
            parse=parse,
            body_format="form",
            signature=signature_check,
        ),
    ),
    normalize=normalize,
    code_meanings=CODE_MEANINGS,
    status_code_field="MessageStatus",
    detail_code_field="ErrorCode",
)
