from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from itertools import pairwise

import orjson
import pytest

from smsradar.model import Status
from smsradar.simulator.traffic import (
    Spike,
    TrafficConfig,
    TrafficGenerator,
    Webhook,
    parse_spike,
)

START = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


class Generated:
    """One generator run: the webhooks in posting order and the truth they imply."""

    def __init__(self, config: TrafficConfig) -> None:
        generator = TrafficGenerator(config)
        self.posted: list[Webhook] = list(generator.webhooks())
        self.messages = generator.messages


def _generate(seed: int, messages: int, spikes: tuple[Spike, ...] = ()) -> Generated:
    return Generated(TrafficConfig(start=START, seed=seed, messages=messages, spikes=spikes))


def _bodies(generated: Generated) -> list[bytes]:
    return [w.body if isinstance(w.body, bytes) else orjson.dumps(w.body) for w in generated.posted]


def test_same_seed_same_traffic_and_truth() -> None:
    first, second = _generate(seed=3, messages=300), _generate(seed=3, messages=300)
    assert _bodies(first) == _bodies(second)
    assert first.messages == second.messages
    assert _bodies(_generate(seed=4, messages=300)) != _bodies(first)


def test_duplicates_and_out_of_order_shares() -> None:
    generator = _generate(seed=5, messages=1500)
    bodies = _bodies(generator)
    duplicates = len(bodies) - len(set(bodies))
    assert 0.01 * len(bodies) < duplicates < 0.035 * len(bodies)
    dues = [w.due_s for w in generator.posted]
    assert dues == sorted(dues)  # posted in due order ...
    sequences = [w.sequence for w in generator.posted]
    inversions = sum(1 for a, b in pairwise(sequences) if b < a)
    assert inversions > 0.02 * len(bodies)  # ... which is not generation order


def test_truth_is_consistent() -> None:
    generator = _generate(seed=9, messages=500)
    for truth in generator.messages:
        if truth.sent_at and truth.delivered_at:
            assert truth.delivery_latency_s == (truth.delivered_at - truth.sent_at).total_seconds()
            assert truth.delivery_latency_s >= 0
        if truth.status in (Status.DELIVERED, Status.READ):
            assert truth.outcome == "delivered"
        assert truth.created_at <= (truth.outcome_at or truth.created_at)
    outcomes = Counter(t.outcome for t in generator.messages)
    assert outcomes["delivered"] > outcomes["failed"] > 0


def test_spike_raises_only_the_spiked_device() -> None:
    def failure_share(generator: Generated, device: str) -> float:
        mine = [t for t in generator.messages if t.device_id == device and t.outcome]
        return sum(t.outcome == "failed" for t in mine) / len(mine)

    calm = _generate(seed=11, messages=3000)
    spiked = _generate(seed=11, messages=3000, spikes=(parse_spike("device=1004,rate=0.7"),))
    assert failure_share(spiked, "1004") > 0.5 > failure_share(calm, "1004")
    assert failure_share(spiked, "1001") < 0.1


@pytest.mark.parametrize("text", ["device=1,rate=2", "rate=0.5", "device=1,from=9,to=3", "x"])
def test_bad_spike_is_a_clear_error(text: str) -> None:
    with pytest.raises(ValueError, match="spike"):
        parse_spike(text)


def test_all_gateways_fleet_has_four_providers_with_truth() -> None:
    config = TrafficConfig(start=START, seed=13, messages=800).with_all_gateways()
    generator = TrafficGenerator(config)
    posted = list(generator.webhooks())
    providers = Counter(t.provider for t in generator.messages)
    assert set(providers) == {"smsgateway24", "smstools", "twilio", "smsgate"}
    assert 0.15 * 800 < providers["twilio"] < 0.25 * 800
    assert {i.provider for i in generator.inbound} >= {"twilio", "smsgate"}
    routes = Counter(w.route for w in posted)
    assert routes["/webhooks/twilio"] and routes["/webhooks/smsgate"]
    assert all(w.body_format == "form" for w in posted if w.route == "/webhooks/twilio")
    assert all(
        isinstance(v, str) for w in posted if w.route == "/webhooks/twilio" for v in w.body.values()
    )
    outcomes = Counter((t.provider, t.outcome) for t in generator.messages)
    for provider in ("twilio", "smsgate"):
        assert outcomes[(provider, "delivered")] > outcomes[(provider, "failed")] > 0
    # Every retry names the webhook it retries, which comes first.
    first_seen = {w.sequence for w in posted if w.retry_of is None}
    retries = [w for w in posted if w.retry_of is not None]
    assert retries and all(w.retry_of in first_seen for w in retries)


def test_twilio_truth_is_timed_by_arrival() -> None:
    config = TrafficConfig(start=START, seed=14, messages=200).with_all_gateways()
    generator = TrafficGenerator(config)
    posted = list(generator.webhooks())
    arrived = datetime(2027, 1, 1, tzinfo=UTC)
    arrivals = {
        w.sequence: arrived.replace(microsecond=w.sequence)
        for w in posted
        if w.route == "/webhooks/twilio" and w.retry_of is None
    }
    before = list(generator.messages)
    generator.apply_arrivals(arrivals)
    twilio = [t for t in generator.messages if t.provider == "twilio"]
    assert twilio
    for truth in twilio:
        assert truth.created_at.year == 2027 and truth.events == len(truth.history)
        if truth.outcome_at is not None:
            assert truth.outcome_at.year == 2027
    # the other gateways' truth is untouched
    assert [t for t in before if t.provider != "twilio"] == [
        t for t in generator.messages if t.provider != "twilio"
    ]
    assert all(i.received_at.year == 2027 for i in generator.inbound if i.provider == "twilio")


def test_default_traffic_has_only_the_first_two_gateways() -> None:
    generator = _generate(seed=15, messages=300)
    assert {t.provider for t in generator.messages} == {"smsgateway24", "smstools"}
