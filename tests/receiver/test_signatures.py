"""Gateway signatures and form bodies over real HTTP: Twilio's X-Twilio-Signature and
sms-gate.app's X-Signature/X-Timestamp, valid, invalid, missing and replayed."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import httpx
import pytest

from smsradar.providers import smsgate, twilio
from tests.conftest import FIXTURES, ReceiverFactory, RunningReceiver
from tests.receiver.test_http import _all_topics
from tests.support.brokers import BrokerUnderTest
from tests.support.kafka import read_topics

pytestmark = pytest.mark.integration

AUTH_TOKEN = "twilio-auth-token-0123456789abcdef"
SIGNING_KEY = "smsgate-signing-key"
PUBLIC_URL = "https://sms.example.com/radar"
TWILIO_FIELDS = json.loads((FIXTURES / "twilio" / "status_undelivered_30003.json").read_text())
SMSGATE_BODY = (FIXTURES / "smsgate" / "received_signed_discussion.json").read_bytes().strip()


def _published(receiver: RunningReceiver, broker: BrokerUnderTest) -> list[str]:
    records = read_topics(broker.bootstrap, _all_topics(receiver), expected=None, timeout_s=3)
    return [record.topic for record in records]


def _post_twilio(
    receiver: RunningReceiver, fields: dict[str, str], signature: str | None
) -> httpx.Response:
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    return httpx.post(
        receiver.route(twilio.ROUTE),
        content=urlencode(fields).encode(),
        headers=headers,
        timeout=10,
    )


def test_twilio_signature(broker: BrokerUnderTest, start_receiver: ReceiverFactory) -> None:
    receiver = start_receiver(
        broker.bootstrap,
        SMSRADAR_TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        SMSRADAR_RECEIVER_PUBLIC_URL=PUBLIC_URL,
    )
    signed_url = f"{PUBLIC_URL}{twilio.ROUTE}"  # what Twilio called, through the proxy
    good = twilio.signature(AUTH_TOKEN, signed_url, TWILIO_FIELDS.items())
    elsewhere = twilio.signature(AUTH_TOKEN, f"{PUBLIC_URL}/other", TWILIO_FIELDS.items())
    wrong_token = twilio.signature("another token", signed_url, TWILIO_FIELDS.items())
    tampered = {**TWILIO_FIELDS, "MessageStatus": "delivered", "ErrorCode": ""}
    for fields, signature in (
        (TWILIO_FIELDS, None),  # missing
        (TWILIO_FIELDS, wrong_token),  # invalid
        (TWILIO_FIELDS, elsewhere),  # replayed from another URL
        (tampered, good),  # replayed with other fields
    ):
        response = _post_twilio(receiver, fields, signature)
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "bad_signature"
    assert _published(receiver, broker) == []

    first = _post_twilio(receiver, TWILIO_FIELDS, good)
    assert first.status_code == 202, first.text
    assert first.json()["kinds"] == ["status"] and first.json()["received_at"]
    # An exact replay passes the signature (Twilio signs no time); it is the same event,
    # which the stream de-duplicates by event_id.
    assert _post_twilio(receiver, TWILIO_FIELDS, good).status_code == 202
    records = read_topics(broker.bootstrap, _all_topics(receiver), expected=2)
    payloads = [json.loads(r.value)["payload"] for r in records]
    assert payloads == [TWILIO_FIELDS, TWILIO_FIELDS]
    assert {r.topic for r in records} == {receiver.settings.webhook_topic("twilio", "status")}


def _post_smsgate(receiver: RunningReceiver, body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(
        receiver.route(smsgate.ROUTE),
        content=body,
        headers={"content-type": "application/json", **headers},
        timeout=10,
    )


def test_smsgate_signature(broker: BrokerUnderTest, start_receiver: ReceiverFactory) -> None:
    receiver = start_receiver(
        broker.bootstrap,
        SMSRADAR_SMSGATE_SIGNING_KEY=SIGNING_KEY,
        SMSRADAR_SMSGATE_SIGNATURE_TOLERANCE_S="60",
    )
    now = str(int(time.time()))
    stale = str(int(time.time()) - 120)
    good = smsgate.signature(SIGNING_KEY, SMSGATE_BODY, now)
    for headers in (
        {},  # missing
        {"X-Timestamp": now},  # missing signature
        {"X-Signature": smsgate.signature("other key", SMSGATE_BODY, now), "X-Timestamp": now},
        {"X-Signature": good, "X-Timestamp": str(int(now) - 1)},  # re-stamped
        # a captured request replayed after the tolerance
        {"X-Signature": smsgate.signature(SIGNING_KEY, SMSGATE_BODY, stale), "X-Timestamp": stale},
    ):
        response = _post_smsgate(receiver, SMSGATE_BODY, **headers)
        assert response.status_code == 401, (headers, response.text)
        assert response.json()["error"] == "bad_signature"
    assert _published(receiver, broker) == []

    response = _post_smsgate(receiver, SMSGATE_BODY, **{"X-Signature": good, "X-Timestamp": now})
    assert response.status_code == 202, response.text
    (record,) = read_topics(broker.bootstrap, _all_topics(receiver), expected=1)
    assert record.topic == receiver.settings.webhook_topic("smsgate", "incoming")
    assert record.key == b"smsgate:69bde8d0"


def test_form_bodies_on_the_twilio_route_only(
    receiver: RunningReceiver, broker: BrokerUnderTest
) -> None:
    # Twilio's route: JSON is 415, a form that is not one is 400 and dead-lettered.
    as_json = httpx.post(receiver.route(twilio.ROUTE), json=TWILIO_FIELDS, timeout=10)
    assert as_json.status_code == 415, as_json.text
    malformed = httpx.post(
        receiver.route(twilio.ROUTE),
        content=b"MessageSid=SM1&&&=%%zz\xff",
        headers={"content-type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert malformed.status_code == 400 and malformed.json()["error"] == "malformed_form"
    # Without SMSRADAR_TWILIO_AUTH_TOKEN no signature is asked for.
    accepted = _post_twilio(receiver, TWILIO_FIELDS, None)
    assert accepted.status_code == 202, accepted.text
    # The other routes keep answering 415 to form bodies.
    for route in ("/webhooks/smsgate", "/webhooks/smstools", "/webhooks/smsgateway24/status"):
        response = httpx.post(receiver.route(route), data={"sms_id": "1"}, timeout=10)
        assert response.status_code == 415, (route, response.text)
    records = read_topics(broker.bootstrap, _all_topics(receiver), expected=2)
    assert sorted(r.topic for r in records) == sorted(
        [receiver.settings.deadletter_topic, receiver.settings.webhook_topic("twilio", "status")]
    )
    document = httpx.get(receiver.route("/openapi.json")).json()
    body = document["paths"][twilio.ROUTE]["post"]["requestBody"]["content"]
    assert list(body) == ["application/x-www-form-urlencoded"]


def test_receiver_warns_of_unchecked_signatures(
    broker: BrokerUnderTest, start_receiver: ReceiverFactory
) -> None:
    receiver = start_receiver(broker.bootstrap, SMSRADAR_TWILIO_AUTH_TOKEN=AUTH_TOKEN)
    receiver.process.wait_until(
        lambda: "smsgate signatures are not checked" in receiver.process.output(), 10, "warning"
    )
    assert "twilio signatures are not checked" not in receiver.process.output()
