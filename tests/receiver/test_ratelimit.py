"""receiver.ratelimit: token buckets per source, on a clock the test moves."""

from __future__ import annotations

import pytest

from receiver.ratelimit import RateLimiter, retry_after_header
from smsradar.settings import Settings


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def limiter(
    rate: float = 2.0, capacity: int = 3, max_sources: int = 100
) -> tuple[RateLimiter, FakeClock]:
    clock = FakeClock()
    return RateLimiter(rate, capacity, max_sources, clock=clock), clock


def test_a_new_source_has_its_whole_burst_then_waits_for_the_refill() -> None:
    limits, _ = limiter(rate=2.0, capacity=3)
    assert [limits.acquire("10.0.0.1") for _ in range(3)] == [None, None, None]
    # Empty: the next token comes after 1/rate seconds.
    assert limits.acquire("10.0.0.1") == pytest.approx(0.5)


def test_tokens_refill_at_the_rate_and_never_beyond_the_burst() -> None:
    limits, clock = limiter(rate=2.0, capacity=3)
    for _ in range(3):
        limits.acquire("a")
    clock.advance(0.25)  # half a token
    assert limits.acquire("a") == pytest.approx(0.25)
    clock.advance(0.25)  # one token
    assert limits.acquire("a") is None
    assert limits.acquire("a") == pytest.approx(0.5)
    clock.advance(3600)  # idle for an hour: full again, but no more than the burst
    assert [limits.acquire("a") for _ in range(4)][-1] is not None
    assert sum(limits.acquire("b") is None for _ in range(10)) == 3


def test_a_refused_request_takes_no_token() -> None:
    limits, clock = limiter(rate=1.0, capacity=1)
    assert limits.acquire("a") is None
    for _ in range(50):  # a client hammering while refused does not push its wait out
        assert limits.acquire("a") == pytest.approx(1.0)
    clock.advance(1.0)
    assert limits.acquire("a") is None


def test_sources_are_counted_separately() -> None:
    limits, _ = limiter(rate=1.0, capacity=2)
    assert [limits.acquire("a") is None for _ in range(3)] == [True, True, False]
    assert [limits.acquire("b") is None for _ in range(3)] == [True, True, False]


def test_a_clock_going_backwards_takes_nothing_away() -> None:
    limits, clock = limiter(rate=1.0, capacity=2)
    limits.acquire("a")
    clock.advance(-10)
    assert limits.acquire("a") is None
    assert limits.acquire("a") is not None


@pytest.mark.parametrize(
    ("wait_s", "header"),
    [(0.0, "1"), (0.001, "1"), (0.5, "1"), (1.0, "1"), (1.0001, "2"), (2.5, "3"), (59.9, "60")],
)
def test_retry_after_is_whole_seconds_rounded_up_at_least_one(wait_s: float, header: str) -> None:
    assert retry_after_header(wait_s) == header


def test_retrying_after_retry_after_is_allowed() -> None:
    limits, clock = limiter(rate=0.3, capacity=1)
    limits.acquire("a")
    wait_s = limits.acquire("a")
    assert wait_s is not None
    clock.advance(float(retry_after_header(wait_s)))
    assert limits.acquire("a") is None


def test_memory_stays_bounded_whatever_the_number_of_sources() -> None:
    limits, clock = limiter(rate=1.0, capacity=1, max_sources=1000)
    for number in range(100_000):
        limits.acquire(f"10.{number >> 16}.{(number >> 8) & 255}.{number & 255}")
        assert len(limits) <= 1000
        clock.advance(0.0001)
    assert len(limits) == 1000


def test_the_least_recently_seen_source_is_dropped_first() -> None:
    limits, _ = limiter(rate=1.0, capacity=1, max_sources=2)
    limits.acquire("old")
    limits.acquire("busy")
    assert limits.acquire("old") is not None  # "old" seen again: now "busy" is the oldest
    limits.acquire("new")  # drops "busy", keeps "old" (still empty)
    assert limits.acquire("old") is not None
    assert limits.acquire("busy") is None  # dropped: it starts again with a full bucket


def test_off_by_default_and_built_from_the_settings() -> None:
    assert RateLimiter.of(Settings(_env_file=None)) is None
    built = RateLimiter.of(Settings(_env_file=None, rate_limit_per_s=2.5, rate_limit_sources=7))
    assert built is not None
    # The burst defaults to one second's worth, rounded up.
    assert (built.rate, built.capacity, built.max_sources) == (2.5, 3, 7)
    burst = RateLimiter.of(Settings(_env_file=None, rate_limit_per_s=0.1, rate_limit_burst=20))
    assert burst is not None and burst.capacity == 20


@pytest.mark.parametrize(("rate", "capacity", "sources"), [(0, 1, 1), (1, 0, 1), (1, 1, 0)])
def test_a_limiter_that_could_never_allow_is_refused(
    rate: float, capacity: int, sources: int
) -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate, capacity, sources)
