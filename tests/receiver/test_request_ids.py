"""Request ids name a request in answers, logs and dead-letter records: never reused."""

from __future__ import annotations

import re

from receiver.app import RequestIds


def test_ids_are_32_hex_digits_and_unique_within_and_across_processes() -> None:
    first, second = RequestIds(), RequestIds()  # as two receiver processes
    ids = [first.next() for _ in range(1000)] + [second.next() for _ in range(1000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", request_id) for request_id in ids)
    assert len(set(ids)) == len(ids)
