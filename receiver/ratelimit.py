"""Per-source rate limiting: a token bucket per client address, in bounded memory.

A bucket holds at most ``capacity`` requests and refills at ``rate`` per second; a request
takes one. Buckets live in an LRU of at most ``max_sources``: the least recently seen
source is dropped first, so a flood from many addresses cannot grow the receiver's memory.
A dropped source starts again with a full bucket, as if it had been idle long enough
(which, being the least recently seen, it nearly always has).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from smsradar.settings import Settings


@dataclass
class _Bucket:
    tokens: float
    updated: float  # clock reading of the last refill


class RateLimiter:
    def __init__(
        self,
        rate: float,
        capacity: int,
        max_sources: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or capacity < 1 or max_sources < 1:
            raise ValueError("rate, capacity and max_sources must be positive")
        self.rate = rate
        self.capacity = capacity
        self.max_sources = max_sources
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @classmethod
    def of(cls, settings: Settings) -> RateLimiter | None:
        """The receiver's limiter, or None when SMSRADAR_RATE_LIMIT_PER_S is 0 (off)."""
        if settings.rate_limit_per_s <= 0:
            return None
        return cls(
            settings.rate_limit_per_s, settings.rate_limit_capacity, settings.rate_limit_sources
        )

    def acquire(self, source: str) -> float | None:
        """Take one request from ``source``'s bucket: None if allowed, else the seconds
        until its next request would be."""
        now = self._clock()
        bucket = self._buckets.get(source)
        if bucket is None:
            bucket = self._buckets[source] = _Bucket(float(self.capacity), now)
            if len(self._buckets) > self.max_sources:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(source)
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(self.capacity), bucket.tokens + elapsed * self.rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return (1.0 - bucket.tokens) / self.rate

    def __len__(self) -> int:
        return len(self._buckets)


def retry_after_header(wait_s: float) -> str:
    """``Retry-After`` in whole seconds, rounded up: a client retrying then is allowed."""
    return str(max(1, math.ceil(wait_s)))
