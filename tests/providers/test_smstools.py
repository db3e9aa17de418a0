"""Smstools: arrays of delivery, read and inbox reports, from the seed document."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from smsradar.model import Direction, ErrorCategory, Status
from smsradar.providers.base import WebhookValidationError
from smsradar.providers.smstools import (
    CODE_MEANINGS,
    DELIVERY_CODES,
    DETAIL_CATEGORIES,
    parse,
)
from tests.providers.conftest import Normalizer, load_fixture

ROUTE = "/webhooks/smstools"
PROVIDER = "smstools"
BRUSSELS = ZoneInfo("Europe/Brussels")
# in numeric order: stable, readable test ids
DELIVERY_CODES_IN_ORDER: list[str] = sorted(DELIVERY_CODES, key=int)
DETAIL_CATEGORIES_IN_ORDER: list[str] = sorted(DETAIL_CATEGORIES, key=int)


def _delivery(code: str, detail: str | None = None) -> list[dict[str, object]]:
    body = load_fixture(PROVIDER, "delivery_report_seed")
    message = body[0]["message"]
    message["delivery_code"] = code
    if detail is None:
        message.pop("delivery_code_detail")
    else:
        message["delivery_code_detail"] = detail
    return body  # type: ignore[no-any-return]


def test_delivery_report_seed(canonical: Normalizer) -> None:
    (event,) = canonical(PROVIDER, ROUTE, load_fixture(PROVIDER, "delivery_report_seed"), BRUSSELS)
    assert (event.direction, event.status, event.provider_status) == (
        Direction.OUTBOUND,
        Status.DELIVERED,
        "1",
    )
    assert event.message_id == "e1qk89exbzgf6fzfunceym2sd67h88"
    assert (event.recipient, event.sender) == ("32470123456", "yoursender")
    # delivered: the seed's leftover detail code is kept but is not a failure category
    assert (event.error_code, event.error_category) == ("10", None)
    # naive "2019-01-01 00:00:00" in Brussels (UTC+1 in winter)
    assert event.event_time == datetime(2018, 12, 31, 23, 0, tzinfo=UTC)


def test_read_report_seed_uses_read_datetime(canonical: Normalizer) -> None:
    (event,) = canonical(PROVIDER, ROUTE, load_fixture(PROVIDER, "read_report_seed"), BRUSSELS)
    assert (event.status, event.provider_status) == (Status.READ, "message_read")
    assert event.event_time == datetime(2018, 12, 31, 23, 1, tzinfo=UTC)


def test_inbox_message_seed_is_a_reply(canonical: Normalizer) -> None:
    (event,) = canonical(PROVIDER, ROUTE, load_fixture(PROVIDER, "inbox_message_seed"), BRUSSELS)
    assert (event.direction, event.status, event.message_id) == (
        Direction.INBOUND,
        Status.RECEIVED,
        "12345678",
    )
    assert event.reply_to_message_id == "985zvqipp73csuuha2079fbshx"
    assert event.body_length == len("message content")


@pytest.mark.parametrize("reply", [False, "false", "0", None])
def test_isreply_false_links_nothing(canonical: Normalizer, reply: object) -> None:
    body = load_fixture(PROVIDER, "inbox_message_seed")
    body[0]["isreply"]["reply"] = reply
    (event,) = canonical(PROVIDER, ROUTE, body)
    assert event.reply_to_message_id is None


def test_a_batch_gives_one_event_per_object_in_order(canonical: Normalizer) -> None:
    events = canonical(PROVIDER, ROUTE, load_fixture(PROVIDER, "rejected_extended_batch"), BRUSSELS)
    assert [(e.message_id, e.status) for e in events] == [
        ("m-2003", Status.REJECTED),
        ("m-0", Status.SENT),
        ("in-1", Status.RECEIVED),
    ]
    assert (events[0].error_code, events[0].error_category) == ("2003", ErrorCategory.GATEWAY)


@pytest.mark.parametrize("code", DELIVERY_CODES_IN_ORDER)
def test_every_delivery_code(canonical: Normalizer, code: str) -> None:
    (event,) = canonical(PROVIDER, ROUTE, _delivery(code))
    assert (event.status, event.provider_status, event.provider_status_known) == (
        DELIVERY_CODES[code],
        code,
        True,
    )
    expected = ErrorCategory.UNSPECIFIED if DELIVERY_CODES[code].is_failure else None
    assert event.error_category is expected


@pytest.mark.parametrize("detail", DETAIL_CATEGORIES_IN_ORDER)
def test_every_detail_code(canonical: Normalizer, detail: str) -> None:
    (event,) = canonical(PROVIDER, ROUTE, _delivery("5", detail))
    assert (event.status, event.error_code, event.error_category) == (
        Status.REJECTED,
        detail,
        DETAIL_CATEGORIES[detail],
    )
    assert f"delivery_code_detail:{detail}" in CODE_MEANINGS


def test_delivery_code_9_is_unknown_not_failed(canonical: Normalizer) -> None:
    (event,) = canonical(PROVIDER, ROUTE, _delivery("9"))
    assert event.status is Status.UNKNOWN and not event.status.is_failure
    assert event.provider_status_known


def test_unknown_codes_are_kept(canonical: Normalizer) -> None:
    (webhook,) = parse(_delivery("77"))
    assert webhook.unknown_code == "77"
    (event,) = canonical(PROVIDER, ROUTE, _delivery("77"))
    assert (event.status, event.provider_status_known, event.error_category) == (
        Status.UNKNOWN,
        False,
        ErrorCategory.UNMAPPED,
    )
    (event,) = canonical(PROVIDER, ROUTE, _delivery("2", "999"))
    assert (event.error_code, event.error_category) == ("999", ErrorCategory.UNMAPPED)


def test_single_object_is_accepted_like_an_array_of_one(canonical: Normalizer) -> None:
    (event,) = canonical(PROVIDER, ROUTE, load_fixture(PROVIDER, "delivery_report_seed")[0])
    assert event.status is Status.DELIVERED


def test_retry_has_the_same_event_id(canonical: Normalizer) -> None:
    (first,) = canonical(PROVIDER, ROUTE, _delivery("1"))
    (retry,) = canonical(PROVIDER, ROUTE, _delivery("1"))
    (failed,) = canonical(PROVIDER, ROUTE, _delivery("2", "11"))
    assert first.event_id == retry.event_id != failed.event_id


def test_errors_point_into_the_array() -> None:
    body = load_fixture(PROVIDER, "rejected_extended_batch")
    del body[1]["message"]["delivery_code"]
    body[2]["webhook_type"] = "carrier_pigeon"
    with pytest.raises(WebhookValidationError) as raised:
        parse(body)
    assert [error.loc for error in raised.value.errors] == [
        "1.message.delivery_code",
        "2.webhook_type",
    ]


@pytest.mark.parametrize("body", [[], "text", 3, [1, 2]])
def test_not_an_array_of_objects(body: object) -> None:
    with pytest.raises(WebhookValidationError):
        parse(body)
