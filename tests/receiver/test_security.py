"""Who gets in and what the log keeps, against a real receiver process on each broker:
per-gateway tokens, Bearer tokens, per-source rate limits behind trusted proxies only,
request timeouts for slow bodies, and logs free of message texts and tokens."""

from __future__ import annotations

import json
import socket
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from smsradar.providers import smsgate, twilio
from tests.conftest import FIXTURES, ReceiverFactory, RunningReceiver
from tests.receiver.test_http import SGW24_STATUS, _all_topics
from tests.support.brokers import BrokerUnderTest
from tests.support.kafka import ConsumedRecord, read_topics

pytestmark = [pytest.mark.integration]

SGW24 = "/webhooks/smsgateway24/status"
SMSTOOLS_REPORT = json.loads((FIXTURES / "smstools" / "delivery_report_seed.json").read_text())


def _sgw24_status(message_id: int) -> dict[str, Any]:
    return {**SGW24_STATUS, "sms_id": message_id}


def _published(receiver: RunningReceiver, broker: BrokerUnderTest) -> list[ConsumedRecord]:
    return read_topics(broker.bootstrap, _all_topics(receiver), expected=None, timeout_s=3)


def _published_ids(records: list[ConsumedRecord]) -> list[str]:
    """The message keys of the webhook records (dead-letter records have none)."""
    return sorted(r.key.decode() for r in records if r.key is not None)


# -- tokens --------------------------------------------------------------------------------


def test_a_gateways_own_token_replaces_the_global_one_on_its_routes_only(
    broker: BrokerUnderTest, start_receiver: ReceiverFactory
) -> None:
    receiver = start_receiver(
        broker.bootstrap,
        SMSRADAR_WEBHOOK_TOKEN="global-token",
        SMSRADAR_SMSTOOLS_WEBHOOK_TOKEN="smstools-token",
    )

    def post(route: str, body: Any, token: str | None = None, **headers: str) -> int:
        params = {"token": token} if token is not None else None
        response = httpx.post(
            receiver.route(route), json=body, params=params, headers=headers, timeout=10
        )
        if response.status_code == 401:
            assert response.json()["error"] == "unauthorized"
        return response.status_code

    refused = [
        post("/webhooks/smstools", SMSTOOLS_REPORT, "global-token"),  # replaced on smstools
        post("/webhooks/smstools", SMSTOOLS_REPORT),  # missing
        post(SGW24, _sgw24_status(1), "smstools-token"),  # not smsgateway24's token
        post(SGW24, _sgw24_status(2)),
        post(SGW24, _sgw24_status(3), "global-toke"),  # a prefix
        post(SGW24, _sgw24_status(4), "global-token-and-more"),
        post(SGW24, _sgw24_status(5), Authorization="Bearer smstools-token"),
        post(SGW24, _sgw24_status(6), Authorization="Basic Z2xvYmFsLXRva2Vu"),  # not Bearer
        post(SGW24, _sgw24_status(7), Authorization="global-token"),  # no scheme
        # both given, both wrong (either one right is enough: a gateway sets one of them)
        post(SGW24, _sgw24_status(8), "wrong", Authorization="Bearer wrong"),
    ]
    assert refused == [401] * len(refused)
    assert _published(receiver, broker) == [], "a refused request was published"

    accepted = [
        post("/webhooks/smstools", SMSTOOLS_REPORT, "smstools-token"),
        post(SGW24, _sgw24_status(11), "global-token"),
        post(SGW24, _sgw24_status(12), Authorization="Bearer global-token"),
        post(SGW24, _sgw24_status(13), Authorization="bearer  global-token"),  # any case
        post(SGW24, _sgw24_status(14), "wrong", Authorization="Bearer global-token"),
    ]
    assert accepted == [202] * len(accepted)
    records = read_topics(broker.bootstrap, _all_topics(receiver), expected=5)
    assert _published_ids(records) == sorted(
        [f"smstools:{SMSTOOLS_REPORT[0]['message']['messageid']}"]
        + [f"smsgateway24:{n}" for n in (11, 12, 13, 14)]
    )


# -- rate limit ----------------------------------------------------------------------------


def _post_from(
    receiver: RunningReceiver, message_id: int, forwarded_for: str | None = None
) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return httpx.post(receiver.route(SGW24), json=_sgw24_status(message_id), headers=headers)


def test_rate_limit_per_source_behind_a_trusted_proxy(
    broker: BrokerUnderTest, start_receiver: ReceiverFactory
) -> None:
    burst = 4
    receiver = start_receiver(
        broker.bootstrap,
        # slow enough that no token comes back while the test runs, however loaded the CI
        SMSRADAR_RATE_LIMIT_PER_S="0.01",
        SMSRADAR_RATE_LIMIT_BURST=str(burst),
        SMSRADAR_TRUSTED_PROXIES="127.0.0.1/32",  # the test client plays the proxy
    )
    # The proxy's own requests (no X-Forwarded-For): the proxy is the source.
    direct = [_post_from(receiver, 100 + n) for n in range(burst + 1)]
    assert [r.status_code for r in direct] == [202] * burst + [429]
    limited = direct[-1]
    assert limited.json()["error"] == "rate_limited"
    retry_after = int(limited.headers["Retry-After"])
    assert 90 <= retry_after <= 100  # one token at 0.01/s: up to 100 s away

    # Another client behind the proxy has a bucket of its own...
    other = [_post_from(receiver, 200 + n, "203.0.113.7") for n in range(burst)]
    assert [r.status_code for r in other] == [202] * burst
    # ... which a forged address in front of the proxy's own entry does not escape: the
    # proxy appended the address it saw, and that is the source.
    forged = _post_from(receiver, 299, "198.51.100.1, 203.0.113.7")
    assert forged.status_code == 429
    # A third client still gets in.
    assert _post_from(receiver, 300, "2001:db8::1").status_code == 202

    records = read_topics(broker.bootstrap, _all_topics(receiver), expected=2 * burst + 1)
    expected_ids = [*range(100, 100 + burst), *range(200, 200 + burst), 300]
    assert _published_ids(records) == sorted(f"smsgateway24:{n}" for n in expected_ids)
    assert all(r.topic != receiver.settings.deadletter_topic for r in records)

    metrics = httpx.get(receiver.route("/metrics")).text
    assert 'reason="rate_limited"' in metrics and "2.0" in next(
        line for line in metrics.splitlines() if 'reason="rate_limited"' in line
    )
    # A refused flood is counted in /metrics, not logged request by request.
    assert "rate_limited" not in receiver.process.output()


def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    broker: BrokerUnderTest, start_receiver: ReceiverFactory
) -> None:
    burst = 2
    receiver = start_receiver(
        broker.bootstrap,
        SMSRADAR_RATE_LIMIT_PER_S="0.01",
        SMSRADAR_RATE_LIMIT_BURST=str(burst),
        SMSRADAR_TRUSTED_PROXIES="10.0.0.0/8",  # not the test client (127.0.0.1)
    )
    # A client inventing a new X-Forwarded-For each time is still one source: itself.
    answers = [
        _post_from(receiver, 400 + n, f"198.51.100.{n + 1}").status_code for n in range(burst + 1)
    ]
    assert answers == [202] * burst + [429]
    records = read_topics(broker.bootstrap, _all_topics(receiver), expected=burst)
    assert _published_ids(records) == [f"smsgateway24:{400 + n}" for n in range(burst)]


# -- request timeout -----------------------------------------------------------------------


def _slow_request(
    receiver: RunningReceiver, declared: int, sent: bytes, dribble_s: float | None
) -> tuple[float, bytes]:
    """Send the headers and ``sent``, then stall (or send one more byte every
    ``dribble_s``); the seconds until the receiver answered and everything it sent."""
    port = int(receiver.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        head = (
            f"POST {SGW24} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {declared}\r\n\r\n"
        ).encode()
        started = time.monotonic()
        connection.sendall(head + sent)
        answer = b""
        connection.settimeout(dribble_s or 30)
        while True:
            try:
                chunk = connection.recv(65536)
            except TimeoutError:
                connection.sendall(b" ")  # dribbling: a byte now and then, never the end
                continue
            except ConnectionResetError:
                break
            if not chunk:
                break  # closed by the receiver
            if not answer:
                answered_s = time.monotonic() - started
            answer += chunk
        return answered_s, answer


@pytest.mark.parametrize("dribble_s", [None, 0.2], ids=["stalled", "dribbling"])
def test_a_body_not_sent_in_time_is_408_and_the_connection_closed(
    broker: BrokerUnderTest, start_receiver: ReceiverFactory, dribble_s: float | None
) -> None:
    timeout_s = 1.0
    receiver = start_receiver(broker.bootstrap, SMSRADAR_REQUEST_TIMEOUT_S=str(timeout_s))
    body = json.dumps(_sgw24_status(500)).encode()
    answered_s, answer = _slow_request(receiver, len(body) + 1000, body[:20], dribble_s)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert timeout_s * 0.9 <= answered_s <= timeout_s + 2.0, answered_s
    assert b"connection: close" in answer.lower()
    assert b'"request_timeout"' in answer
    assert _published(receiver, broker) == []
    # and the receiver goes on serving
    assert httpx.post(receiver.route(SGW24), json=_sgw24_status(501)).status_code == 202


# -- what the log keeps ---------------------------------------------------------------------


@pytest.mark.parametrize("signed", [True, False], ids=["signatures-checked", "unsigned"])
def test_the_log_holds_no_message_text_and_no_token(
    broker: BrokerUnderTest, start_receiver: ReceiverFactory, signed: bool
) -> None:
    """Both ways, as each reaches other code: a form Twilio did not sign is parsed by the
    route (whose parser's error quotes the field), a signed one is checked first (whose
    error names the URL, which carries ?token=)."""
    token = f"tok-{uuid.uuid4().hex}"
    auth_token = "log-test-twilio-auth-token"
    signing_key = "log-test-smsgate-key"
    marker = f"MARKER{uuid.uuid4().hex}"
    secrets = (
        {"SMSRADAR_TWILIO_AUTH_TOKEN": auth_token, "SMSRADAR_SMSGATE_SIGNING_KEY": signing_key}
        if signed
        else {}
    )
    receiver = start_receiver(
        broker.bootstrap,
        SMSRADAR_WEBHOOK_TOKEN=token,
        SMSRADAR_MAX_BODY_BYTES="4096",
        SMSRADAR_LOG_LEVEL="DEBUG",  # the most the log ever holds
        **secrets,
    )
    params = {"token": token}
    client = httpx.Client(timeout=10)
    answers: list[int] = []

    def post(route: str, expected: int, **kwargs: Any) -> None:
        kwargs.setdefault("params", params)
        response = client.post(receiver.route(route), **kwargs)
        answers.append(response.status_code)
        assert response.status_code == expected, (route, response.text)

    sgw24_incoming = json.loads((FIXTURES / "smsgateway24" / "incoming_seed.json").read_text())
    smstools_inbox = json.loads((FIXTURES / "smstools" / "inbox_message_seed.json").read_text())
    twilio_incoming = json.loads((FIXTURES / "twilio" / "incoming_message_docs.json").read_text())
    smsgate_received = json.loads((FIXTURES / "smsgate" / "received_docs.json").read_text())
    json_type = {"content-type": "application/json"}
    form_type = {"content-type": "application/x-www-form-urlencoded"}

    # Accepted, the marker as the message's text.
    post("/webhooks/smsgateway24/incoming", 202, json={**sgw24_incoming, "body": marker})
    inbox = [{**smstools_inbox[0], "message": {**smstools_inbox[0]["message"], "content": marker}}]
    post("/webhooks/smstools", 202, json=inbox)
    fields = {**twilio_incoming, "Body": marker}
    twilio_url = f"{receiver.route(twilio.ROUTE)}?{urlencode(params)}"
    signature = twilio.signature(auth_token, twilio_url, fields.items())
    form = urlencode(fields).encode()
    post(twilio.ROUTE, 202, content=form, headers={**form_type, "X-Twilio-Signature": signature})
    received = {**smsgate_received, "payload": {**smsgate_received["payload"], "message": marker}}
    raw = json.dumps(received).encode()
    stamp = str(int(time.time()))
    signed_headers = {
        "X-Signature": smsgate.signature(signing_key, raw, stamp),
        "X-Timestamp": stamp,
    }
    post(smsgate.ROUTE, 202, content=raw, headers={**json_type, **signed_headers})
    # (a time the receiver cannot read is the worker's to dead-letter: accepted here)
    post("/webhooks/smsgateway24/incoming", 202, json={**sgw24_incoming, "date": marker})

    # Refused, the marker in the field at fault or anywhere in the body.
    post("/webhooks/smsgateway24/incoming", 422, json={**sgw24_incoming, "type": marker})
    post("/webhooks/smsgateway24/incoming", 422, json={**sgw24_incoming, "body": {"x": marker}})
    post("/webhooks/smsgateway24/incoming", 422, json={**sgw24_incoming, "address": [marker]})
    post("/webhooks/smstools", 422, json=[{**inbox[0], "webhook_type": marker}])
    post("/webhooks/smstools", 422, json=[{"message": marker}])
    post(SGW24, 422, json={**SGW24_STATUS, "status_id": marker, "senttime": marker})
    post(SGW24, 400, content=f'{{"sms_id": "{marker}",,}}'.encode(), headers=json_type)
    post(SGW24, 400, content=f'{{"sms_id": "{marker}\xff"}}'.encode("latin-1"), headers=json_type)
    post(SGW24, 415, content=marker.encode(), headers={"content-type": "text/plain"})
    post(SGW24, 413, content=json.dumps({"body": marker * 200}).encode(), headers=json_type)
    bad_signature = {**form_type, "X-Twilio-Signature": "bad"}
    bad_form = f"Body={marker}&{marker}".encode()  # a field without "=": not a form
    post(twilio.ROUTE, 401 if signed else 400, content=bad_form, headers=bad_signature)
    not_utf8 = b"Body=" + marker.encode() + b"\xff"
    post(twilio.ROUTE, 401 if signed else 400, content=not_utf8, headers=form_type)
    post(twilio.ROUTE, 401 if signed else 202, content=form, headers=bad_signature)
    bad_smsgate = {**json_type, "X-Signature": marker, "X-Timestamp": stamp}
    post(smsgate.ROUTE, 401 if signed else 202, content=raw, headers=bad_smsgate)
    # Wrong tokens, as a guesser sends them: neither the guess nor the real one is logged.
    post(SGW24, 401, json=SGW24_STATUS, params={"token": f"{token}x"})
    post(SGW24, 401, json=SGW24_STATUS, params={"token": marker})
    post(SGW24, 401, json=SGW24_STATUS, params={}, headers={"Authorization": f"Bearer {marker}"})
    client.close()

    output = receiver.process.output()
    # Every refusal is in the log (at its most detailed level), each without what was sent.
    assert output.count("webhook rejected") == sum(a != 202 for a in answers), output[-3000:]
    assert marker not in output, "a message text (or a value sent) reached the log"
    assert token not in output, "the webhook token reached the log"
    assert auth_token not in output and signing_key not in output
