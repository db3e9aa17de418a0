"""sms-gate.app (SMS Gateway for Android): documented events and payloads, failure reasons,
and X-Signature/X-Timestamp (valid, invalid, missing, replayed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.datastructures import Headers

from smsradar.model import Direction, ErrorCategory, Status
from smsradar.providers.base import SignatureRejected, SignedRequest, WebhookValidationError
from smsradar.providers.smsgate import REASON_CATEGORIES, parse, signature, signature_check
from smsradar.settings import Settings
from tests.providers.conftest import FIXTURES, RECEIVED_AT, Normalizer, load_fixture

PROVIDER = "smsgate"
ROUTE = "/webhooks/smsgate"
KEY = "signing-key-from-the-app"
DEVICE = "ffffffffceb0b1db0000018e937c815b"


def test_received_from_the_docs(canonical: Normalizer) -> None:
    (event,) = canonical(PROVIDER, ROUTE, load_fixture(PROVIDER, "received_docs"))
    assert event.direction is Direction.INBOUND and event.status is Status.RECEIVED
    assert (event.message_id, event.sender, event.device_id, event.sim) == (
        "abc123",
        "6505551212",
        DEVICE,
        "1",
    )
    # the phone's local time with its offset, as UTC
    assert event.event_time == datetime(2024, 6, 22, 8, 46, 11, tzinfo=UTC)
    assert event.body_length == len("Android is always a sweet treat!")


def test_sent_then_delivered(canonical: Normalizer) -> None:
    (sent,) = canonical(PROVIDER, ROUTE, load_fixture(PROVIDER, "sent"))
    (delivered,) = canonical(PROVIDER, ROUTE, load_fixture(PROVIDER, "delivered"))
    assert sent.message_id == delivered.message_id == "zXnTq0-LhUrT_Ow8jfNr-"
    assert (sent.status, delivered.status) == (Status.SENT, Status.DELIVERED)
    assert (sent.provider_status, delivered.provider_status) == ("sms:sent", "sms:delivered")
    assert sent.event_time == datetime(2024, 6, 22, 8, 50, 2, tzinfo=UTC)
    assert delivered.event_time == datetime(2024, 6, 22, 8, 50, 9, tzinfo=UTC)
    assert (sent.recipient, sent.device_id, sent.sim) == ("+79990001234", DEVICE, "1")
    assert sent.event_id != delivered.event_id


def test_failed_with_a_reason(canonical: Normalizer) -> None:
    (event,) = canonical(PROVIDER, ROUTE, load_fixture(PROVIDER, "failed"))
    assert (event.status, event.error_category, event.error_code) == (
        Status.FAILED,
        ErrorCategory.DEVICE,
        "RESULT_ERROR_NO_SERVICE",
    )
    assert event.sim is None  # simNumber null: the default SIM
    assert event.event_time == datetime(2024, 6, 22, 8, 52, 40, tzinfo=UTC)


@pytest.mark.parametrize("reason", sorted(REASON_CATEGORIES))
def test_every_mapped_reason(canonical: Normalizer, reason: str) -> None:
    body = load_fixture(PROVIDER, "failed")
    body["payload"]["reason"] = reason
    (event,) = canonical(PROVIDER, ROUTE, body)
    assert event.error_category is REASON_CATEGORIES[reason]


@pytest.mark.parametrize(
    ("reason", "category"),
    [(None, ErrorCategory.UNSPECIFIED), ("", ErrorCategory.UNSPECIFIED), ("boom", "unmapped")],
)
def test_failed_without_a_known_reason(
    canonical: Normalizer, reason: str | None, category: ErrorCategory
) -> None:
    body = load_fixture(PROVIDER, "failed")
    body["payload"]["reason"] = reason
    (event,) = canonical(PROVIDER, ROUTE, body)
    assert event.error_category == category


def test_data_sms_is_incoming(canonical: Normalizer) -> None:
    body = load_fixture(PROVIDER, "received_docs")
    body["event"] = "sms:data-received"
    body["payload"] = {**body["payload"], "data": "SGVsbG8=", "message": None}
    (event,) = canonical(PROVIDER, ROUTE, body)
    assert (event.status, event.body_length) == (Status.RECEIVED, len("SGVsbG8="))


def test_naive_time_is_read_in_the_configured_zone(canonical: Normalizer) -> None:
    from zoneinfo import ZoneInfo

    body = load_fixture(PROVIDER, "sent")
    body["payload"]["sentAt"] = "2024-06-22T15:50:02"
    (event,) = canonical(PROVIDER, ROUTE, body, ZoneInfo("Asia/Bangkok"))
    assert event.event_time == datetime(2024, 6, 22, 8, 50, 2, tzinfo=UTC)


def test_missing_time_falls_back_to_arrival(canonical: Normalizer) -> None:
    body = load_fixture(PROVIDER, "delivered")
    del body["payload"]["deliveredAt"]
    (event,) = canonical(PROVIDER, ROUTE, body)
    assert event.event_time == RECEIVED_AT


def test_ping_is_accepted_with_nothing_to_publish() -> None:
    ping = {"deviceId": DEVICE, "event": "system:ping", "id": "p1", "payload": {"health": {}}}
    assert parse(ping) == []


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"event": "sms:unknown"}, "event"),
        ({"payload": None}, "payload"),
        ({"payload": {"phoneNumber": "+1"}}, "payload.messageId"),
    ],
)
def test_invalid_events_name_the_field(change: dict[str, object], loc: str) -> None:
    body = {**load_fixture(PROVIDER, "sent"), **change}
    with pytest.raises(WebhookValidationError) as raised:
        parse(body)
    assert raised.value.errors[0].loc == loc


# -- X-Signature / X-Timestamp --------------------------------------------------------------


def _settings(tolerance_s: int = 300) -> Settings:
    return Settings(
        smsgate_signing_key=KEY,
        smsgate_signature_tolerance_s=tolerance_s,
    )


def _request(body: bytes, at: datetime, **headers: str) -> SignedRequest:
    return SignedRequest("https://sms.example.com/webhooks/smsgate", Headers(headers), body, at)


def _body() -> bytes:
    # the raw body as the app sent it, compact and in its own key order
    return (FIXTURES / PROVIDER / "received_signed_discussion.json").read_bytes().strip()


def test_signature_is_hex_hmac_sha256_of_body_then_timestamp() -> None:
    import hashlib
    import hmac

    body = _body()
    expected = hmac.new(KEY.encode(), body + b"1741912196", hashlib.sha256).hexdigest()
    assert signature(KEY, body, "1741912196") == expected
    assert len(expected) == 64 and int(expected, 16) >= 0


def test_valid_signature_within_tolerance_passes() -> None:
    check = signature_check(_settings())
    assert check is not None
    now = datetime.now(UTC)
    for age_s in (0, 299, -299):  # the phone's clock may run ahead too
        stamp = str(int((now - timedelta(seconds=age_s)).timestamp()))
        sig = signature(KEY, _body(), stamp)
        check(_request(_body(), now, **{"X-Signature": sig, "X-Timestamp": stamp}))
        check(_request(_body(), now, **{"X-Signature": sig.upper(), "X-Timestamp": stamp}))


def test_no_check_without_a_key() -> None:
    assert signature_check(Settings()) is None


@pytest.mark.parametrize(
    "case",
    ["no signature", "no timestamp", "invalid", "other body", "other timestamp", "bad stamp"],
)
def test_bad_signatures_are_rejected(case: str) -> None:
    check = signature_check(_settings())
    assert check is not None
    now = datetime.now(UTC)
    stamp = str(int(now.timestamp()))
    body, sig = _body(), signature(KEY, _body(), stamp)
    headers = {"X-Signature": sig, "X-Timestamp": stamp}
    if case == "no signature":
        del headers["X-Signature"]
    elif case == "no timestamp":
        del headers["X-Timestamp"]
    elif case == "invalid":
        headers["X-Signature"] = signature("another key", body, stamp)
    elif case == "other body":
        body = body.replace(b"sweet", b"sour!")
    elif case == "other timestamp":  # re-stamping a captured request
        headers["X-Timestamp"] = str(int(now.timestamp()) - 1)
    else:
        headers["X-Timestamp"] = "2025-03-14T07:29:55Z"
    with pytest.raises(SignatureRejected):
        check(_request(body, now, **headers))


def test_replayed_request_with_a_stale_timestamp_is_rejected() -> None:
    check = signature_check(_settings(tolerance_s=300))
    assert check is not None
    signed_at = datetime.now(UTC) - timedelta(seconds=301)
    stamp = str(int(signed_at.timestamp()))
    headers = {"X-Signature": signature(KEY, _body(), stamp), "X-Timestamp": stamp}
    check(_request(_body(), signed_at, **headers))  # fine when it was fresh ...
    with pytest.raises(SignatureRejected, match="replay"):
        check(_request(_body(), datetime.now(UTC), **headers))  # ... not 301 s later


def test_signed_fixture_is_a_valid_event() -> None:
    assert Path(FIXTURES / PROVIDER / "received_signed_discussion.json").exists()
    (webhook,) = parse(load_fixture(PROVIDER, "received_signed_discussion"))
    assert (webhook.kind, webhook.message_id) == ("incoming", "69bde8d0")
