"""5,000 simulated webhooks through the real receiver: every 202 on Kafka exactly once."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest

from smsradar import simulator
from smsradar.providers import ADAPTERS
from tests.conftest import RunningReceiver
from tests.support.brokers import BrokerUnderTest
from tests.support.kafka import read_topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_every_accepted_webhook_is_on_kafka_exactly_once(
    receiver: RunningReceiver, broker: BrokerUnderTest
) -> None:
    traffic = simulator.TrafficConfig(seed=7, rate=5_000, messages=1_250, invalid_rate=0.01)
    posting = simulator.PostConfig(url=receiver.url, rate=2_000, concurrency=32)
    result = asyncio.run(simulator.run_async(traffic, posting))
    outcomes = result.report.outcomes
    assert len(outcomes) >= 5_000
    statuses = Counter(o.status for o in outcomes)
    assert set(statuses) <= {202, 400, 422}, statuses
    assert statuses[400] + statuses[422] > 0  # the invalid share was exercised

    settings = receiver.settings
    webhook_topics = [
        settings.webhook_topic(adapter.name, kind)
        for adapter in ADAPTERS.values()
        for kind in adapter.kinds
    ]
    accepted_objects = sum(o.objects for o in outcomes if o.status == 202)
    records = read_topics(broker.bootstrap, webhook_topics, expected=accepted_objects, timeout_s=60)
    published = Counter(
        (e["request_id"], e["index"]) for e in map(json.loads, (r.value for r in records))
    )
    expected = Counter(
        (o.request_id, index) for o in outcomes if o.status == 202 for index in range(o.objects)
    )
    assert published == expected  # each accepted object once; nothing unaccepted

    rejected = {o.request_id for o in outcomes if o.status in (400, 422)}
    dead = read_topics(broker.bootstrap, [settings.deadletter_topic], expected=len(rejected))
    dead_ids = Counter(r.headers["request_id"].decode() for r in dead)
    assert dead_ids == Counter(rejected)
    print(
        f"accounting: {len(outcomes)} requests, {accepted_objects} objects accepted and on Kafka"
        f" once each, {len(rejected)} rejected and dead-lettered, statuses {dict(statuses)}"
    )
