"""The benchmarks' load generator against a real HTTP server that closes idle connections."""

from __future__ import annotations

import asyncio
import contextlib

from smsradar.bench.loadgen import OpenLoopResult, open_loop
from tests.support.http_server import read_request

ACCEPTED = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"


async def _serve_closing_idle(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, idle_close_s: float
) -> None:
    """Answer every request 202 and close the connection once it was idle ``idle_close_s``,
    as uvicorn does with its keep-alive timeout."""
    try:
        while True:
            await asyncio.wait_for(read_request(reader), idle_close_s)
            writer.write(ACCEPTED)
            await writer.drain()
    except (TimeoutError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def _run_against_closing_server(idle_close_s: float, idle_expiry_s: float) -> OpenLoopResult:
    async def run() -> OpenLoopResult:
        handlers: set[asyncio.Task[None]] = set()

        def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            handlers.add(asyncio.create_task(_serve_closing_idle(reader, writer, idle_close_s)))

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            # one request a second: each finds the last one's connection idle for a second
            result = await open_loop(
                f"http://127.0.0.1:{port}/webhook",
                rate=1,
                duration_s=4,
                connections=2,
                id_prefix="loadgen-",
                max_conns=4,
                idle_expiry_s=idle_expiry_s,
            )
            # the generator closed its connections: every handler ends on their EOF
            await asyncio.wait_for(asyncio.gather(*handlers), 5)
        return result

    return asyncio.run(run())


def test_connections_idle_past_the_expiry_are_replaced_not_reused() -> None:
    result = _run_against_closing_server(idle_close_s=0.5, idle_expiry_s=0.25)
    assert result.errors == {}, result.errors
    assert result.statuses == {202: 4}
    # two opened up front, the first request on one of them (idle 50 ms), then one each
    assert result.connections == 2 + 3


def test_a_connection_the_server_closed_fails_the_request_written_on_it() -> None:
    # Why the expiry exists: reused past the server's idle limit, requests fail.
    result = _run_against_closing_server(idle_close_s=0.5, idle_expiry_s=60)
    assert result.errors, result
    assert result.statuses[202] < 4, result
