"""The poster's report says what each retry met: a status, or a connection error by name."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from smsradar.simulator import PostConfig
from smsradar.simulator.poster import post_all
from smsradar.simulator.traffic import Webhook


def test_retry_causes_name_each_retried_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    answers: Iterator[int | None] = iter([503, None, 202, 202])  # None: the connection drops

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        if status is None:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return httpx.Response(status, json={"request_id": "r1"})

    real_client = httpx.AsyncClient

    def client(**kwargs: Any) -> httpx.AsyncClient:
        return real_client(transport=httpx.MockTransport(handler), **kwargs)

    monkeypatch.setattr(httpx, "AsyncClient", client)
    webhooks = [
        Webhook(0.0, sequence, "/webhooks/smsgateway24/status", {"sms_id": sequence})
        for sequence in range(2)
    ]
    config = PostConfig(url="http://receiver.test", rate=1000, concurrency=1, max_backoff_s=0)
    report = asyncio.run(post_all(iter(webhooks), config))

    assert [o.status for o in report.outcomes] == [202, 202]
    assert [o.attempts for o in report.outcomes] == [3, 1]
    assert report.retries == 2
    assert report.retry_causes == {"503": 1, "RemoteProtocolError": 1}


def test_idle_connections_are_dropped_before_the_receiver_closes_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # At equal idle limits a post can go out on a connection the receiver is closing.
    from receiver.server import KEEP_ALIVE_S

    limits: list[httpx.Limits] = []
    real_client = httpx.AsyncClient

    def accept(request: httpx.Request) -> httpx.Response:
        return httpx.Response(202, json={"request_id": "r1"})

    def client(**kwargs: Any) -> httpx.AsyncClient:
        limits.append(kwargs["limits"])
        return real_client(transport=httpx.MockTransport(accept), **kwargs)

    monkeypatch.setattr(httpx, "AsyncClient", client)
    webhooks = [Webhook(0.0, 0, "/webhooks/smsgateway24/status", {"sms_id": 0})]
    config = PostConfig(url="http://receiver.test", rate=1000, concurrency=1, max_backoff_s=0)
    asyncio.run(post_all(iter(webhooks), config))

    (used,) = limits
    assert used.keepalive_expiry is not None
    assert used.keepalive_expiry <= KEEP_ALIVE_S / 2
