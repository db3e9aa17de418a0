"""SMSGateway24: every documented shape and status code, from the seed document."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from smsradar.model import Direction, ErrorCategory, Status
from smsradar.providers.base import WebhookValidationError
from smsradar.providers.smsgateway24 import STATUS_CODES, parse_incoming, parse_status
from tests.providers.conftest import RECEIVED_AT, Normalizer, load_fixture

STATUS = "/webhooks/smsgateway24/status"
INCOMING = "/webhooks/smsgateway24/incoming"
PROVIDER = "smsgateway24"
# in numeric order: stable, readable test ids
STATUS_CODES_IN_ORDER: list[str] = sorted(STATUS_CODES, key=int)


def test_status_seed(canonical: Normalizer) -> None:
    (event,) = canonical(PROVIDER, STATUS, load_fixture(PROVIDER, "status_seed"))
    assert event.direction is Direction.OUTBOUND
    assert (event.message_id, event.status, event.provider_status) == (
        "1254",
        Status.DELIVERED,
        "7",
    )
    assert event.provider_status_known and event.error_category is None
    assert (event.device_id, event.sim, event.recipient) == ("4512", "0", "+5511987654321")
    assert event.event_time == datetime(2026, 11, 20, 10, 0, 5, tzinfo=UTC)
    assert event.received_at == RECEIVED_AT


def test_status_with_channel_id(canonical: Normalizer) -> None:
    (event,) = canonical(PROVIDER, STATUS, load_fixture(PROVIDER, "status_channel_id"))
    assert (event.status, event.sim, event.message_id) == (Status.SENT, "1", "1255")


def test_incoming_seed_with_numeric_address(canonical: Normalizer) -> None:
    (event,) = canonical(PROVIDER, INCOMING, load_fixture(PROVIDER, "incoming_seed"))
    assert event.direction is Direction.INBOUND and event.status is Status.RECEIVED
    assert (event.message_id, event.sender, event.sim) == ("9001", "5511987654321", "1")
    assert event.body_length == len("Sim, confirmo")
    assert event.sender_sent_at == datetime(2026, 11, 20, 10, 4, 58, tzinfo=UTC)


def test_incoming_image_with_channel_id(canonical: Normalizer) -> None:
    (event,) = canonical(PROVIDER, INCOMING, load_fixture(PROVIDER, "incoming_channel_img"))
    assert (event.message_id, event.sender, event.sim, event.body_length) == (
        "9002",
        "+32470123456",
        "0",
        0,
    )


@pytest.mark.parametrize("code", STATUS_CODES_IN_ORDER)
def test_every_documented_status_code(canonical: Normalizer, code: str) -> None:
    body = {**load_fixture(PROVIDER, "status_seed"), "status_id": int(code)}
    (event,) = canonical(PROVIDER, STATUS, body)
    status, category = STATUS_CODES[code]
    assert (event.status, event.error_category, event.provider_status) == (status, category, code)
    assert event.provider_status_known
    assert (category is not None) == status.is_failure


def test_documented_order_1_3_2() -> None:
    ranks = [STATUS_CODES[code][0].rank for code in ("1", "3", "2", "6", "7")]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)


def test_status_5_is_an_incoming_sms(canonical: Normalizer) -> None:
    (event,) = canonical(
        PROVIDER, STATUS, {**load_fixture(PROVIDER, "status_seed"), "status_id": 5}
    )
    assert (event.direction, event.status) == (Direction.INBOUND, Status.RECEIVED)


def test_unknown_code_is_kept_and_flagged(canonical: Normalizer) -> None:
    body = {**load_fixture(PROVIDER, "status_seed"), "status_id": 42}
    (webhook,) = parse_status(body)
    assert webhook.unknown_code == "42"
    (event,) = canonical(PROVIDER, STATUS, body)
    assert (event.status, event.provider_status, event.provider_status_known) == (
        Status.UNKNOWN,
        "42",
        False,
    )
    assert event.error_category is ErrorCategory.UNMAPPED


def test_numbers_as_strings_and_extra_fields(canonical: Normalizer) -> None:
    body = {
        **load_fixture(PROVIDER, "status_seed"),
        "status_id": "07",
        "sms_id": "1254",
        "firmware": {"v": 3},
    }
    (event,) = canonical(PROVIDER, STATUS, body)
    assert (event.status, event.provider_status, event.message_id) == (
        Status.DELIVERED,
        "7",
        "1254",
    )


def test_naive_time_is_read_in_the_configured_zone(canonical: Normalizer) -> None:
    body = load_fixture(PROVIDER, "status_seed")
    (event,) = canonical(PROVIDER, STATUS, body, ZoneInfo("America/Sao_Paulo"))
    assert event.event_time == datetime(2026, 11, 20, 13, 0, 5, tzinfo=UTC)


def test_missing_time_falls_back_to_arrival(canonical: Normalizer) -> None:
    body = {k: v for k, v in load_fixture(PROVIDER, "status_seed").items() if k != "senttime"}
    (event,) = canonical(PROVIDER, STATUS, body)
    assert event.event_time == RECEIVED_AT


def test_retry_has_the_same_event_id_and_a_new_status_a_new_one(canonical: Normalizer) -> None:
    body = load_fixture(PROVIDER, "status_seed")
    (first,), (retry,) = canonical(PROVIDER, STATUS, body), canonical(PROVIDER, STATUS, dict(body))
    (other,) = canonical(PROVIDER, STATUS, {**body, "status_id": 6})
    assert first.event_id == retry.event_id != other.event_id


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ([], "body"),
        ({"status_id": 7}, "sms_id"),
        ({"sms_id": 1}, "status_id"),
        ({"sms_id": 1, "status_id": "seven"}, "status_id"),
        ({"sms_id": "", "status_id": 7}, "sms_id"),
    ],
)
def test_invalid_status_bodies_name_the_field(body: object, loc: str) -> None:
    with pytest.raises(WebhookValidationError) as raised:
        parse_status(body)
    assert loc in [error.loc for error in raised.value.errors]


def test_incoming_without_any_id_is_invalid() -> None:
    with pytest.raises(WebhookValidationError, match="sms_id"):
        parse_incoming({"address": 1, "body": "hi"})


def test_incoming_type_must_be_text_or_img() -> None:
    with pytest.raises(WebhookValidationError) as raised:
        parse_incoming({**load_fixture(PROVIDER, "incoming_seed"), "type": "video"})
    assert [error.loc for error in raised.value.errors] == ["type"]
