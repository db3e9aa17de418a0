"""What a gateway adapter is: its HTTP endpoints, its validation and its normalization.

One module per gateway builds an :class:`Adapter`; ``smsradar.providers`` registers it.
The receiver only validates (``Endpoint.parse``) and publishes the webhook as received;
the stream processors call ``Adapter.normalize`` on the published envelope.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from smsradar.model import CanonicalEvent

if TYPE_CHECKING:
    from smsradar.settings import Settings


@dataclass(frozen=True)
class FieldError:
    loc: str  # dotted path into the body, e.g. "0.message.delivery_code"
    msg: str  # may quote the value: answered to the client, never logged
    type: str = "invalid"  # pydantic's error type, e.g. "int_parsing": never quotes the value


class WebhookValidationError(Exception):
    """The body is JSON but not a valid webhook of this endpoint (HTTP 422)."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__(self.summary(len(errors)))

    def summary(self, limit: int) -> str:
        """The first ``limit`` errors, and how many more there are."""
        text = "; ".join(f"{e.loc}: {e.msg}" for e in self.errors[:limit])
        if len(self.errors) > limit:
            text += f"; and {len(self.errors) - limit} more errors"
        return text

    def locations(self, limit: int) -> str:
        """The first ``limit`` errors by field and type only: safe to log, as no value is
        quoted (a message's text could be)."""
        text = "; ".join(f"{e.loc} ({e.type})" for e in self.errors[:limit])
        if len(self.errors) > limit:
            text += f"; and {len(self.errors) - limit} more errors"
        return text

    @classmethod
    def single(cls, loc: str, msg: str) -> WebhookValidationError:
        return cls([FieldError(loc=loc, msg=msg)])

    @classmethod
    def from_pydantic(cls, exc: ValidationError, prefix: str = "") -> WebhookValidationError:
        errors = []
        for error in exc.errors(include_url=False):
            loc = ".".join(str(part) for part in (prefix, *error["loc"]) if part != "")
            errors.append(FieldError(loc=loc or "body", msg=error["msg"], type=error["type"]))
        return cls(errors)


@dataclass(frozen=True)
class Webhook:
    """One validated webhook object, ready to publish to its topic."""

    kind: str
    message_id: str  # the provider's message id: the Kafka key, so a message stays on one partition
    payload: dict[str, Any]  # the object exactly as received
    unknown_code: str | None = None  # a status code outside the documented set, kept and counted


class WebhookEnvelope(BaseModel):
    """The record on a webhook topic: the webhook as received plus where it came from."""

    model_config = ConfigDict(frozen=True)

    provider: str
    kind: str
    request_id: str
    index: int = 0  # position within the request body (Smstools posts arrays)
    received_at: AwareDatetime
    payload: dict[str, Any]


class SignatureRejected(Exception):
    """A gateway signature is missing, wrong or stale: HTTP 401, nothing is published."""


@dataclass(frozen=True)
class SignedRequest:
    """What a gateway's signature covers, as the receiver got it."""

    url: str  # the URL the gateway called (SMSRADAR_RECEIVER_PUBLIC_URL + path + query)
    headers: Mapping[str, str]  # case-insensitive lookup (Starlette's Headers)
    body: bytes  # the raw body, before any decoding
    received_at: datetime


# Raises SignatureRejected for a request that does not carry a valid signature.
SignatureCheck = Callable[[SignedRequest], None]
BodyFormat = Literal["json", "form"]


@dataclass(frozen=True)
class Endpoint:
    path: str  # e.g. "/webhooks/smsgateway24/status"
    summary: str
    schema: type[BaseModel]  # documents the body in the OpenAPI description
    # decoded body (JSON value, or for "form" a dict of fields) -> webhooks, or
    # WebhookValidationError
    parse: Callable[[Any], list[Webhook]]
    body_format: BodyFormat = "json"
    # settings -> the endpoint's signature check, or None when its secret is not configured
    signature: Callable[[Settings], SignatureCheck | None] | None = None


@dataclass(frozen=True)
class Adapter:
    name: str
    kinds: tuple[str, ...]  # one webhook topic per kind
    endpoints: tuple[Endpoint, ...]
    # (envelope, zone for naive timestamps) -> canonical events; raises ValueError on
    # an envelope it cannot use (the stream sends it to the dead-letter topic).
    normalize: Callable[[WebhookEnvelope, ZoneInfo], list[CanonicalEvent]]
    # provider code -> its meaning from the gateway's documentation
    code_meanings: Mapping[str, str] = field(default_factory=dict)
    # The payload fields whose codes become ``provider_status`` and ``error_code``, as
    # named in code_meanings' keys ("status_id:7").
    status_code_field: str = "status"
    detail_code_field: str | None = None

    def describe_code(self, status: str, detail: str | None = None) -> str | None:
        """The documented meaning of a raw status code and its detail code, if known."""
        meanings = [self.code_meanings.get(f"{self.status_code_field}:{status}")]
        if detail is not None and self.detail_code_field is not None:
            meanings.append(self.code_meanings.get(f"{self.detail_code_field}:{detail}"))
        known = [meaning for meaning in meanings if meaning]
        return ": ".join(known) if known else None


# Provider timestamps seen in the wild: "2019-01-01 00:00:00", ISO 8601 with or without
# an offset, and Unix epoch seconds or milliseconds.
_EPOCH_MS_THRESHOLD = 10**11


def parse_provider_time(value: Any, zone: ZoneInfo) -> datetime | None:
    """A provider timestamp as aware UTC; naive values are read in ``zone``.

    Returns None for empty or unparseable values (the caller falls back to arrival time).
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            seconds = value / 1000 if value >= _EPOCH_MS_THRESHOLD else value
            return datetime.fromtimestamp(seconds, tz=UTC)
        text = str(value).strip()
        if not text or text.startswith("0000"):
            return None
        if text.isdigit():
            return parse_provider_time(int(text), zone)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


class ProviderModel(BaseModel):
    """Base of provider schemas: extra fields are tolerated and kept."""

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)
