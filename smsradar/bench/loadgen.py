"""Load generator of the HTTP benchmarks, run as its own process so it has its own core.

``python -m smsradar.bench.loadgen open ...`` posts SMSGateway24 status webhooks at a fixed
offered rate (open loop: request *i* is due at ``start + i / rate`` whatever happened to the
ones before, and its latency counts from that due time, so a stall is not hidden by the
generator waiting for it). ``closed`` keeps N connections busy for a duration (throughput,
used when ``wrk`` is not installed). ``watch`` reads a webhook topic with a plain aiokafka
consumer and notes when each message id first becomes readable there.

Requests are written as raw HTTP/1.1 on keep-alive connections: an httpx client spends more
CPU per request than the servers under test, which would make it the bottleneck. A connection
idle for ``KEEPALIVE_EXPIRY_S`` is dropped rather than reused, as the simulator's poster does:
the servers close theirs after 5 s, and a request written on one they are closing fails.
Every mode prints one JSON object on stdout (or to ``--out``); times are ``time.monotonic()``
(one clock for every process of the machine).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson

from smsradar.eventloop import use_uvloop
from smsradar.keepalive import KEEPALIVE_EXPIRY_S

STATUS_MESSAGES = {1: "pending", 3: "queued", 6: "sent", 7: "delivered"}


def status_body(message_id: str, status_id: int = 1) -> bytes:
    """A valid SMSGateway24 delivery-status webhook for ``message_id``."""
    return orjson.dumps(
        {
            "sms_id": message_id,
            "status_id": status_id,
            "status_message": STATUS_MESSAGES.get(status_id, "pending"),
            "sendto": "+32470123456",
            "senttime": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "device_id": 42,
            "sim": 0,
        }
    )


@dataclass
class Target:
    host: str
    port: int
    path: str  # with its query string

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urlsplit(url)
        path = parts.path or "/"
        if parts.query:
            path += f"?{parts.query}"
        return cls(parts.hostname or "127.0.0.1", parts.port or 80, path)

    def request(self, body: bytes) -> bytes:
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = time.monotonic()

    @classmethod
    async def open(cls, target: Target) -> Connection:
        reader, writer = await asyncio.open_connection(target.host, target.port)
        return cls(reader, writer)

    async def exchange(self, request: bytes) -> int:
        """Send one request, read its whole response, return the status code."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lowered = head.lower()
        at = lowered.find(b"content-length:")
        if at >= 0:
            end = lowered.index(b"\r\n", at)
            length = int(lowered[at + 15 : end])
            if length:
                await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


def take_idle(idle: list[Connection], expiry_s: float) -> Connection | None:
    """The most recently used of the ``idle`` connections, unless it has been idle for
    ``expiry_s``; those idle that long are closed (the ones below it in the stack too)."""
    now = time.monotonic()
    while idle:
        conn = idle.pop()
        if now - conn.idle_since < expiry_s:
            return conn
        conn.close()
    return None


@dataclass
class OpenLoopResult:
    due: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # by exception class
    latencies_s: list[float] = field(default_factory=list)
    send_lags_s: list[float] = field(default_factory=list)  # start of sending - due time
    accepted: list[tuple[str, float]] = field(default_factory=list)  # (message id, time of 202)
    connections: int = 0
    elapsed_s: float = 0.0


async def open_loop(
    url: str,
    rate: float,
    duration_s: float,
    connections: int,
    id_prefix: str,
    max_conns: int,
    idle_expiry_s: float = KEEPALIVE_EXPIRY_S,
) -> OpenLoopResult:
    target = Target.parse(url)
    idle: list[Connection] = [await Connection.open(target) for _ in range(connections)]
    result = OpenLoopResult(due=int(rate * duration_s), connections=connections)
    pending: set[asyncio.Task[None]] = set()
    slots = asyncio.Semaphore(max_conns)

    async def one(number: int, due: float) -> None:
        message_id = f"{id_prefix}{number}"
        request = target.request(status_body(message_id))
        async with slots:
            result.send_lags_s.append(time.monotonic() - due)
            conn = take_idle(idle, idle_expiry_s)
            if conn is None:
                try:
                    conn = await Connection.open(target)
                except OSError as exc:
                    result.errors[type(exc).__name__] += 1
                    return
                result.connections += 1
            try:
                status = await conn.exchange(request)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                result.errors[type(exc).__name__] += 1
                conn.close()
                return
            done = conn.idle_since = time.monotonic()
            idle.append(conn)
        result.statuses[status] += 1
        result.latencies_s.append(done - due)
        if status == 202:
            result.accepted.append((message_id, done))

    start = time.monotonic() + 0.05
    for number in range(result.due):
        due = start + number / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(number, due))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(pending)
    result.elapsed_s = time.monotonic() - start
    for conn in idle:
        conn.close()
    return result


async def closed_loop(url: str, duration_s: float, connections: int) -> dict[str, Any]:
    target = Target.parse(url)
    request = target.request(status_body("bench-throughput"))
    statuses: Counter[int] = Counter()
    errors = 0
    conns = [await Connection.open(target) for _ in range(connections)]
    started = time.monotonic()
    deadline = started + duration_s

    async def run(conn: Connection) -> None:
        nonlocal errors
        while time.monotonic() < deadline:
            try:
                statuses[await conn.exchange(request)] += 1
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                return

    await asyncio.gather(*(run(conn) for conn in conns))
    elapsed = time.monotonic() - started
    for conn in conns:
        conn.close()
    total = sum(statuses.values())
    return {
        "requests": total,
        "elapsed_s": elapsed,
        "rps": total / elapsed,
        "statuses": {str(k): v for k, v in statuses.items()},
        "errors": errors,
    }


async def watch(
    bootstrap: str, topic: str, id_prefix: str, expect: int, idle_timeout_s: float
) -> dict[str, Any]:
    """First time each ``id_prefix*`` message id is readable on ``topic``."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    seen: dict[str, float] = {}
    try:
        partitions = None
        while not partitions:  # the receiver creates its topics at start-up
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                await consumer.force_metadata_update()
                await asyncio.sleep(0.2)
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_end(*assigned)
        for tp in assigned:
            await consumer.position(tp)
        print("ready", file=sys.stderr, flush=True)
        last = time.monotonic()
        while len(seen) < expect and time.monotonic() - last < idle_timeout_s:
            batch = await consumer.getmany(timeout_ms=100)
            now = time.monotonic()
            for records in batch.values():
                for record in records:
                    message_id = str(orjson.loads(record.value)["payload"]["sms_id"])
                    if message_id.startswith(id_prefix):
                        seen.setdefault(message_id, now)
                        last = now
    finally:
        await consumer.stop()
    return {"seen": seen}


def _main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m smsradar.bench.loadgen")
    modes = parser.add_subparsers(dest="mode", required=True)
    opened = modes.add_parser("open", help="fixed offered rate, latency from each due time")
    opened.add_argument("--url", required=True)
    opened.add_argument("--rate", type=float, required=True)
    opened.add_argument("--duration", type=float, required=True)
    opened.add_argument("--connections", type=int, default=16)
    opened.add_argument("--max-connections", type=int, default=256)
    opened.add_argument("--id-prefix", default="bench-")
    opened.add_argument("--accepted", action="store_true", help="list each 202's id and time")
    closed = modes.add_parser("closed", help="N busy connections for a duration")
    closed.add_argument("--url", required=True)
    closed.add_argument("--duration", type=float, required=True)
    closed.add_argument("--connections", type=int, default=32)
    watching = modes.add_parser("watch", help="when ids first become readable on a topic")
    watching.add_argument("--bootstrap", required=True)
    watching.add_argument("--topic", required=True)
    watching.add_argument("--id-prefix", required=True)
    watching.add_argument("--expect", type=int, required=True)
    watching.add_argument("--idle-timeout", type=float, default=15.0)
    for mode in (opened, closed, watching):
        mode.add_argument("--out", help="write the JSON result here instead of stdout")
    args = parser.parse_args(argv)

    use_uvloop()
    # SIGTERM ends the process like Ctrl-C, so asyncio.run unwinds and sockets close.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    output: dict[str, Any]
    if args.mode == "open":
        result = asyncio.run(
            open_loop(
                args.url,
                args.rate,
                args.duration,
                args.connections,
                args.id_prefix,
                args.max_connections,
            )
        )
        output = {
            "due": result.due,
            "statuses": {str(k): v for k, v in result.statuses.items()},
            "errors": dict(result.errors),
            "send_lags_s": result.send_lags_s,
            "latencies_s": result.latencies_s,
            "connections": result.connections,
            "elapsed_s": result.elapsed_s,
        }
        if args.accepted:
            output["accepted"] = result.accepted
    elif args.mode == "closed":
        output = asyncio.run(closed_loop(args.url, args.duration, args.connections))
    else:
        output = asyncio.run(
            watch(args.bootstrap, args.topic, args.id_prefix, args.expect, args.idle_timeout)
        )
    if args.out:  # uvloop may leave stdout non-blocking: a big result in a pipe could be cut
        with open(args.out, "wb") as out:
            out.write(orjson.dumps(output))
    else:
        sys.stdout.buffer.write(orjson.dumps(output))
        sys.stdout.flush()


if __name__ == "__main__":
    _main()
