"""Pieces of the small asyncio HTTP/1.1 servers that tests point our HTTP clients at."""

from __future__ import annotations

import asyncio


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """Read one request (its head, then its ``Content-Length`` body) and return the body;
    IncompleteReadError when the client closed the connection instead."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.lower().split(b"\r\n")
        if line.startswith(b"content-length:")
    )
    return await reader.readexactly(length)
