"""Twilio: documented status callbacks and incoming messages, status and error codes, and
X-Twilio-Signature (valid, invalid, missing, replayed elsewhere)."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from starlette.datastructures import Headers

from smsradar.model import Direction, ErrorCategory, Status
from smsradar.providers.base import SignatureRejected, SignedRequest, WebhookValidationError
from smsradar.providers.twilio import (
    ERROR_CATEGORIES,
    STATUSES,
    form_fields,
    parse,
    signature,
    signature_check,
)
from smsradar.settings import Settings
from tests.providers.conftest import RECEIVED_AT, Normalizer, load_fixture

PROVIDER = "twilio"
ROUTE = "/webhooks/twilio"
TOKEN = "12345"
URL = "https://sms.example.com/webhooks/twilio?token=abc"


def test_sent_callback_from_the_docs(canonical: Normalizer) -> None:
    (event,) = canonical(PROVIDER, ROUTE, load_fixture(PROVIDER, "status_sent_docs"))
    assert event.direction is Direction.OUTBOUND
    assert (event.message_id, event.status, event.provider_status) == (
        "SM1342fe1b2c904d1ab04f0fc7a58abca9",
        Status.SENT,
        "sent",
    )
    assert (event.sender, event.recipient) == ("+15017250604", "+15558675310")
    assert event.error_category is None and event.error_code is None
    # No event time in a Twilio callback: the arrival time stands for it.
    assert event.event_time == event.received_at == RECEIVED_AT


def test_delivered_with_raw_dlr_done_date_keeps_arrival_time(canonical: Normalizer) -> None:
    body = load_fixture(PROVIDER, "status_delivered_raw_dlr")
    (event,) = canonical(PROVIDER, ROUTE, body)
    assert event.status is Status.DELIVERED
    assert event.event_time == RECEIVED_AT  # RawDlrDoneDate is minute-precision, kept raw
    (sent,) = canonical(PROVIDER, ROUTE, load_fixture(PROVIDER, "status_sent_docs"))
    assert sent.message_id == event.message_id and sent.event_id != event.event_id


def test_undelivered_maps_its_error_code(canonical: Normalizer) -> None:
    (event,) = canonical(PROVIDER, ROUTE, load_fixture(PROVIDER, "status_undelivered_30003"))
    assert (event.status, event.error_category, event.error_code) == (
        Status.UNDELIVERED,
        ErrorCategory.UNREACHABLE,
        "30003",
    )


def test_failed_carrier_filtering_is_spam(canonical: Normalizer) -> None:
    (event,) = canonical(PROVIDER, ROUTE, load_fixture(PROVIDER, "status_failed_30007"))
    assert (event.status, event.error_category) == (Status.FAILED, ErrorCategory.SPAM)


def test_incoming_message_from_the_docs(canonical: Normalizer) -> None:
    body = load_fixture(PROVIDER, "incoming_message_docs")
    (webhook,) = parse(body)
    assert webhook.kind == "incoming"
    (event,) = canonical(PROVIDER, ROUTE, body)
    assert event.direction is Direction.INBOUND and event.status is Status.RECEIVED
    assert (event.message_id, event.sender, event.recipient) == (
        "SMXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        "+14017122661",
        "+15558675310",
    )
    assert event.body_length == len("Hello from the other side")


@pytest.mark.parametrize("status", sorted(STATUSES))
def test_every_documented_status(canonical: Normalizer, status: str) -> None:
    body = {**load_fixture(PROVIDER, "status_sent_docs"), "MessageStatus": status}
    (event,) = canonical(PROVIDER, ROUTE, body)
    assert event.status is STATUSES[status] and event.provider_status_known
    if event.status.is_failure:
        assert event.error_category is ErrorCategory.UNSPECIFIED  # failed without ErrorCode
    else:
        assert event.error_category is None


@pytest.mark.parametrize("code", sorted(ERROR_CATEGORIES))
def test_every_mapped_error_code(canonical: Normalizer, code: str) -> None:
    body = {**load_fixture(PROVIDER, "status_failed_30007"), "ErrorCode": code}
    (event,) = canonical(PROVIDER, ROUTE, body)
    assert (event.error_category, event.error_code) == (ERROR_CATEGORIES[code], code)


def test_unknown_error_code_and_status_are_kept(canonical: Normalizer) -> None:
    failed = {**load_fixture(PROVIDER, "status_failed_30007"), "ErrorCode": "39999"}
    (event,) = canonical(PROVIDER, ROUTE, failed)
    assert (event.error_category, event.error_code) == (ErrorCategory.UNMAPPED, "39999")
    odd = {**load_fixture(PROVIDER, "status_sent_docs"), "MessageStatus": "partially_delivered"}
    (webhook,) = parse(odd)
    assert webhook.unknown_code == "partially_delivered"
    (event,) = canonical(PROVIDER, ROUTE, odd)
    assert (event.status, event.provider_status_known) == (Status.UNKNOWN, False)


def test_older_sms_fields_alone_are_enough(canonical: Normalizer) -> None:
    (event,) = canonical(PROVIDER, ROUTE, {"SmsSid": "SM1", "SmsStatus": "Delivered"})
    assert (event.message_id, event.status) == ("SM1", Status.DELIVERED)


def test_retried_callback_has_the_same_event_id(canonical: Normalizer) -> None:
    body = load_fixture(PROVIDER, "status_undelivered_30003")
    assert (
        canonical(PROVIDER, ROUTE, body)[0].event_id
        == canonical(PROVIDER, ROUTE, dict(body))[0].event_id
    )


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"MessageStatus": "sent"}, "MessageSid"),
        ({"MessageSid": "SM1"}, "MessageStatus"),
        ({"MessageSid": " ", "MessageStatus": "sent"}, "MessageSid"),
        (["MessageSid", "SM1"], "body"),
    ],
)
def test_invalid_bodies_name_the_field(body: object, loc: str) -> None:
    with pytest.raises(WebhookValidationError) as raised:
        parse(body)
    assert raised.value.errors[0].loc == loc


# -- X-Twilio-Signature ---------------------------------------------------------------------


def test_signature_matches_twilios_documented_example() -> None:
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert signature("12345", url, params.items()) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def _request(body: bytes, url: str = URL, **headers: str) -> SignedRequest:
    return SignedRequest(url, Headers(headers), body, datetime.now(UTC))


def _signed(fields: dict[str, str], url: str = URL) -> tuple[bytes, str]:
    body = urlencode(fields).encode()
    return body, signature(TOKEN, url, form_fields(body))


def test_valid_signature_passes() -> None:
    check = signature_check(Settings(twilio_auth_token=TOKEN))
    assert check is not None
    body, sig = _signed(load_fixture(PROVIDER, "status_sent_docs"))
    check(_request(body, **{"X-Twilio-Signature": sig}))
    # Twilio may have signed the URL with or without the default port.
    check(
        _request(
            body,
            "https://sms.example.com:443/webhooks/twilio?token=abc",
            **{"X-Twilio-Signature": sig},
        )
    )


def test_no_check_without_a_token() -> None:
    assert signature_check(Settings()) is None


@pytest.mark.parametrize("case", ["missing", "invalid", "other params", "not a form"])
def test_bad_signatures_are_rejected(case: str) -> None:
    check = signature_check(Settings(twilio_auth_token=TOKEN))
    assert check is not None
    body, sig = _signed(load_fixture(PROVIDER, "status_sent_docs"))
    headers = {"X-Twilio-Signature": sig}
    if case == "missing":
        headers = {}
    elif case == "invalid":
        headers = {"X-Twilio-Signature": "AAAA" + sig[4:]}
    elif case == "other params":  # a field added to a signed request
        body += b"&ErrorCode=30003"
    else:
        body = b"\xff\xfe"
    with pytest.raises(SignatureRejected):
        check(_request(body, **headers))


def test_signature_replayed_to_another_url_is_rejected() -> None:
    """Twilio signs no timestamp: a captured request is only bound to its URL and fields.

    Replayed elsewhere (another route, another token in the query) it fails; replayed
    as is it passes and is de-duplicated downstream by its event_id.
    """
    check = signature_check(Settings(twilio_auth_token=TOKEN))
    assert check is not None
    body, sig = _signed(load_fixture(PROVIDER, "status_sent_docs"))
    for other in (
        "https://sms.example.com/webhooks/twilio?token=other",
        "https://evil.example.com/webhooks/twilio?token=abc",
        "http://sms.example.com/webhooks/twilio?token=abc",
    ):
        with pytest.raises(SignatureRejected):
            check(_request(body, other, **{"X-Twilio-Signature": sig}))
    check(_request(body, **{"X-Twilio-Signature": sig}))  # the exact replay


def test_an_empty_token_is_no_token() -> None:
    assert signature_check(Settings(twilio_auth_token="")) is None
