"""The poster against a real HTTP server: what each retry met, a status or a connection
error by name, and connections dropped before the receiver would drop them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import aiohttp
import orjson
import pytest

from smsradar.keepalive import KEEPALIVE_EXPIRY_S
from smsradar.simulator import PostConfig
from smsradar.simulator.poster import post_all
from smsradar.simulator.traffic import Webhook
from tests.support.http_server import read_request

ROUTE = "/webhooks/smsgateway24/status"


async def _scripted_server(answers: Iterator[int | None]) -> asyncio.Server:
    """An HTTP/1.1 server answering each request with the next status of ``answers``;
    ``None`` closes the connection without an answer."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await read_request(reader)
                status = next(answers)
                if status is None:
                    return
                body = orjson.dumps({"request_id": "r1"})
                writer.write(
                    f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n"
                    f"content-length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except asyncio.IncompleteReadError:
            return
        finally:
            writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0)


def test_retry_causes_name_each_retried_answer() -> None:
    answers: Iterator[int | None] = iter([503, None, 202, 202])  # None: the connection drops
    webhooks = [Webhook(0.0, sequence, ROUTE, {"sms_id": sequence}) for sequence in range(2)]

    async def run() -> Any:
        server = await _scripted_server(answers)
        port = server.sockets[0].getsockname()[1]
        config = PostConfig(
            url=f"http://127.0.0.1:{port}", rate=1000, concurrency=1, max_backoff_s=0
        )
        async with server:
            return await post_all(iter(webhooks), config)

    report = asyncio.run(run())

    assert [o.status for o in report.outcomes] == [202, 202]
    assert [o.request_id for o in report.outcomes] == ["r1", "r1"]
    assert [o.attempts for o in report.outcomes] == [3, 1]
    assert report.retries == 2
    assert report.retry_causes == {"503": 1, "ServerDisconnectedError": 1}


def test_idle_connections_are_dropped_before_the_receiver_closes_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # At equal idle limits a post can go out on a connection the receiver is closing.
    from receiver.server import KEEP_ALIVE_S

    keepalive: list[float] = []
    real_connector = aiohttp.TCPConnector

    def connector(**kwargs: Any) -> aiohttp.TCPConnector:
        keepalive.append(kwargs["keepalive_timeout"])
        return real_connector(**kwargs)

    monkeypatch.setattr(aiohttp, "TCPConnector", connector)
    webhooks = [Webhook(0.0, 0, ROUTE, {"sms_id": 0})]

    async def run() -> None:
        server = await _scripted_server(iter([202]))
        port = server.sockets[0].getsockname()[1]
        config = PostConfig(url=f"http://127.0.0.1:{port}", rate=1000, concurrency=1)
        async with server:
            await post_all(iter(webhooks), config)

    asyncio.run(run())

    assert keepalive == [KEEPALIVE_EXPIRY_S]
    assert KEEPALIVE_EXPIRY_S <= KEEP_ALIVE_S / 2
