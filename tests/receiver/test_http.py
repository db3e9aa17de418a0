"""Every route and response code of CONTRACT.md, over real HTTP, on each broker under test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from smsradar.broker import EmbeddedBroker
from tests.conftest import FIXTURES, ReceiverFactory, RunningReceiver
from tests.support.brokers import BrokerUnderTest
from tests.support.kafka import read_topics
from tests.support.processes import http_ok

pytestmark = pytest.mark.integration

SGW24_STATUS = {
    "sms_id": 4711,
    "status_id": 7,
    "status_message": "delivered",
    "sendto": "+32470123456",
    "senttime": "2026-11-20 10:00:05",
    "sim": 0,
    "device_id": 12,
}


def _route_for(path: Path, body: Any) -> str:
    if path.parent.name in ("smstools", "twilio", "smsgate"):
        return f"/webhooks/{path.parent.name}"
    kind = "status" if "status_id" in body else "incoming"
    return f"/webhooks/smsgateway24/{kind}"


def _post_fixture(receiver: RunningReceiver, path: Path, body: Any) -> httpx.Response:
    route = receiver.route(_route_for(path, body))
    if path.parent.name == "twilio":  # Twilio's fixtures are its form fields
        return httpx.post(route, data=body, timeout=10)
    return httpx.post(route, json=body, timeout=10)


def _fixture_cases() -> list[tuple[str, Path]]:
    cases = []
    for path in sorted(FIXTURES.glob("*/*.json")):
        cases.append((f"{path.parent.name}/{path.stem}", path))
    return cases


def _all_topics(receiver: RunningReceiver) -> list[str]:
    from smsradar.providers import ADAPTERS

    settings = receiver.settings
    topics = [settings.deadletter_topic]
    for adapter in ADAPTERS.values():
        topics += [settings.webhook_topic(adapter.name, kind) for kind in adapter.kinds]
    return topics


@pytest.mark.parametrize(("name", "path"), _fixture_cases(), ids=[c[0] for c in _fixture_cases()])
def test_every_seed_fixture_is_accepted_and_published(
    receiver: RunningReceiver, broker: BrokerUnderTest, name: str, path: Path
) -> None:
    body = json.loads(path.read_text())
    response = _post_fixture(receiver, path, body)
    assert response.status_code == 202, response.text
    accepted = response.json()
    objects = body if isinstance(body, list) else [body]
    assert accepted["accepted"] == len(objects)

    records = read_topics(broker.bootstrap, _all_topics(receiver), expected=len(objects))
    envelopes = [json.loads(r.value) for r in records]
    assert sorted(e["index"] for e in envelopes) == list(range(len(objects)))
    for record, envelope in zip(records, envelopes, strict=True):
        assert envelope["request_id"] == accepted["request_id"]
        assert envelope["payload"] == objects[envelope["index"]]
        assert record.topic == receiver.settings.webhook_topic(
            envelope["provider"], envelope["kind"]
        )
        assert record.key is not None and record.key.startswith(envelope["provider"].encode())


def test_key_is_provider_and_message_id(receiver: RunningReceiver, broker: BrokerUnderTest) -> None:
    response = httpx.post(receiver.route("/webhooks/smsgateway24/status"), json=SGW24_STATUS)
    assert response.status_code == 202
    topic = receiver.settings.webhook_topic("smsgateway24", "status")
    [record] = read_topics(broker.bootstrap, [topic], expected=1)
    assert record.key == b"smsgateway24:4711"


def test_malformed_json_is_400_and_dead_lettered_raw(
    receiver: RunningReceiver, broker: BrokerUnderTest
) -> None:
    raw = b'{"sms_id": 1, "status_id": 7,,}'
    response = httpx.post(
        receiver.route("/webhooks/smsgateway24/status"),
        content=raw,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_json"
    [record] = read_topics(broker.bootstrap, [receiver.settings.deadletter_topic], expected=1)
    assert record.value == raw
    assert record.headers["status"] == b"400"
    assert record.headers["reason"] == b"malformed_json"
    assert record.headers["provider"] == b"smsgateway24"


def test_schema_invalid_is_422_naming_the_field_and_dead_lettered(
    receiver: RunningReceiver, broker: BrokerUnderTest
) -> None:
    body = {k: v for k, v in SGW24_STATUS.items() if k != "sms_id"}
    response = httpx.post(receiver.route("/webhooks/smsgateway24/status"), json=body)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert any("sms_id" in error["loc"] for error in errors), errors
    [record] = read_topics(broker.bootstrap, [receiver.settings.deadletter_topic], expected=1)
    assert json.loads(record.value) == body
    assert record.headers["status"] == b"422"
    assert b"sms_id" in record.headers["errors"]


def test_smstools_invalid_element_names_its_index(
    receiver: RunningReceiver, broker: BrokerUnderTest
) -> None:
    good = json.loads((FIXTURES / "smstools").glob("*.json").__next__().read_text())
    good_object = good[0] if isinstance(good, list) else good
    bad_object = {"webhook_id": "x", "webhook_type": "delivery_report", "message": {}}
    response = httpx.post(receiver.route("/webhooks/smstools"), json=[good_object, bad_object])
    assert response.status_code == 422
    assert any(e["loc"].startswith("1") for e in response.json()["errors"])
    # Nothing of a partly invalid request is published: the gateway retries it whole.
    records = read_topics(broker.bootstrap, _all_topics(receiver), expected=None, timeout_s=5)
    assert [r.topic for r in records] == [receiver.settings.deadletter_topic]


def _post_rejected(receiver: RunningReceiver, expected_status: int, **kwargs: Any) -> None:
    response = httpx.post(receiver.route("/webhooks/smsgateway24/status"), **kwargs)
    assert response.status_code == expected_status, response.text
    assert response.json()["error"]


def _assert_nothing_published(receiver: RunningReceiver, broker: BrokerUnderTest) -> None:
    records = read_topics(broker.bootstrap, _all_topics(receiver), expected=None, timeout_s=3)
    assert records == []


def test_token_required_when_configured(
    broker: BrokerUnderTest, start_receiver: ReceiverFactory
) -> None:
    receiver = start_receiver(broker.bootstrap, SMSRADAR_WEBHOOK_TOKEN="s3cret-token")
    _post_rejected(receiver, 401, json=SGW24_STATUS)
    _post_rejected(receiver, 401, json=SGW24_STATUS, params={"token": "wrong"})
    _post_rejected(receiver, 401, json=SGW24_STATUS, params={"token": "s3cret-toke"})
    _assert_nothing_published(receiver, broker)
    response = httpx.post(
        receiver.route("/webhooks/smsgateway24/status"),
        json=SGW24_STATUS,
        params={"token": "s3cret-token"},
    )
    assert response.status_code == 202


def test_without_token_the_receiver_warns_at_start(
    broker: BrokerUnderTest, start_receiver: ReceiverFactory
) -> None:
    receiver = start_receiver(broker.bootstrap)
    receiver.process.wait_until(
        lambda: "SMSRADAR_WEBHOOK_TOKEN is not set" in receiver.process.output(), 10, "warning"
    )


def test_body_over_limit_is_413(broker: BrokerUnderTest, start_receiver: ReceiverFactory) -> None:
    receiver = start_receiver(broker.bootstrap, SMSRADAR_MAX_BODY_BYTES="200")
    padded = {**SGW24_STATUS, "status_message": "x" * 300}
    _post_rejected(receiver, 413, json=padded)

    def chunks() -> Any:  # no Content-Length: the limit holds while streaming too
        yield json.dumps(padded).encode()

    _post_rejected(receiver, 413, content=chunks(), headers={"content-type": "application/json"})
    _assert_nothing_published(receiver, broker)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_non_json_content_type_is_415(
    receiver: RunningReceiver, broker: BrokerUnderTest, content_type: str
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    _post_rejected(receiver, 415, content=json.dumps(SGW24_STATUS), headers=headers)
    _assert_nothing_published(receiver, broker)


def test_broker_down_is_503_with_retry_after_then_202_when_back(
    start_receiver: ReceiverFactory,
) -> None:
    own_broker = EmbeddedBroker()
    own_broker.start()
    try:
        receiver = start_receiver(own_broker.bootstrap, SMSRADAR_PUBLISH_TIMEOUT_S="2")
        route = receiver.route("/webhooks/smsgateway24/status")
        receiver.process.wait_until(lambda: http_ok(receiver.route("/readyz")), 30, "ready")
        assert httpx.post(route, json=SGW24_STATUS, timeout=10).status_code == 202

        own_broker.stop()
        response = httpx.post(route, json={**SGW24_STATUS, "sms_id": 2}, timeout=10)
        assert response.status_code == 503
        assert int(response.headers["retry-after"]) > 0
        assert response.json()["error"] == "broker_unavailable"
        assert httpx.get(receiver.route("/readyz"), timeout=10).status_code == 503

        own_broker.start()
        receiver.process.wait_until(lambda: http_ok(receiver.route("/readyz")), 60, "ready again")
        response = httpx.post(route, json={**SGW24_STATUS, "sms_id": 3}, timeout=10)
        assert response.status_code == 202, response.text
        topic = receiver.settings.webhook_topic("smsgateway24", "status")
        keys = {r.key for r in read_topics(own_broker.bootstrap, [topic], expected=1)}
        assert b"smsgateway24:3" in keys
    finally:
        own_broker.stop()


def test_health_ready_and_metrics(receiver: RunningReceiver) -> None:
    assert httpx.get(receiver.route("/healthz")).json() == {"status": "ok"}
    ready = httpx.get(receiver.route("/readyz"))
    assert ready.status_code == 200 and ready.json()["broker"] == "reachable"

    httpx.post(receiver.route("/webhooks/smsgateway24/status"), json=SGW24_STATUS)
    httpx.post(
        receiver.route("/webhooks/smsgateway24/status"), json={**SGW24_STATUS, "status_id": 77}
    )
    httpx.post(
        receiver.route("/webhooks/smsgateway24/status"),
        content=b"{",
        headers={"content-type": "application/json"},
    )
    metrics = httpx.get(receiver.route("/metrics")).text
    assert 'smsradar_webhooks_accepted_total{kind="status",provider="smsgateway24"} 2.0' in metrics
    assert (
        'smsradar_requests_rejected_total{provider="smsgateway24",reason="malformed_json"} 1.0'
        in metrics
    )
    assert 'smsradar_unknown_provider_codes_total{code="77",provider="smsgateway24"} 1.0' in metrics
    assert "smsradar_publish_latency_seconds_count 3.0" in metrics


def test_openapi_lists_every_webhook_route(receiver: RunningReceiver) -> None:
    document = httpx.get(receiver.route("/openapi.json")).json()
    assert set(document["paths"]) == {
        "/webhooks/smsgateway24/status",
        "/webhooks/smsgateway24/incoming",
        "/webhooks/smstools",
        "/webhooks/twilio",
        "/webhooks/smsgate",
        # the receiver's own routes
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    }
