"""The stream processors through the real receiver, broker (each under test) and workers.

Simulator traffic with ground truth (duplicates, out-of-order deliveries, invalid
requests) goes in over HTTP; the fact topics must come out equal to the truth.
"""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import rocksdict

from smsradar import simulator
from smsradar.bench.loadgen import status_body
from smsradar.kafka import make_producer
from smsradar.settings import Settings
from smsradar.simulator import SimulationResult
from streams.app import webhook_topic_names
from tests.conftest import RunningReceiver, WorkerFactory, worker_app_id
from tests.support.brokers import BrokerUnderTest
from tests.support.facts import (
    Facts,
    actual_messages,
    describe_difference,
    expected_messages,
    read_facts,
    wait_for_facts,
)
from tests.support.kafka import read_topics, wait_for_group_caught_up

pytestmark = [pytest.mark.integration, pytest.mark.slow]

JSON = {"Content-Type": "application/json"}


def simulate(
    receiver: RunningReceiver, seed: int, messages: int, start: datetime | None = None
) -> SimulationResult:
    # 10 webhooks/s of simulated time posted at 800/s: minutes of event time in seconds
    traffic = simulator.TrafficConfig(
        seed=seed, rate=10, messages=messages, invalid_rate=0.01, start=start
    )
    posting = simulator.PostConfig(url=receiver.url, rate=800, concurrency=16)
    return asyncio.run(simulator.run_async(traffic, posting))


def assert_matches_truth(receiver: RunningReceiver, result: SimulationResult) -> Facts:
    assert all(o.status in (202, 400, 422) for o in result.report.outcomes)
    facts = wait_for_facts(receiver.settings, result.messages, result.inbound)
    difference = describe_difference(facts, result.messages, result.inbound)
    assert "wrong: 0" in difference and "differing 0" in difference, difference
    assert len(facts.messages) == len(result.messages), difference
    print(difference)
    return facts


def test_facts_match_the_ground_truth(
    receiver: RunningReceiver, broker: BrokerUnderTest, start_worker: WorkerFactory
) -> None:
    worker = start_worker(broker.bootstrap)
    result = simulate(receiver, seed=21, messages=400)
    facts = assert_matches_truth(receiver, result)
    windows = {start for start, _, _ in facts.windows()}
    assert len(windows) >= 3  # the accelerated clock spread outcomes over several windows
    # one status-event fact per distinct event
    assert len(facts.status_events) == sum(m.events for m in result.messages) + len(result.inbound)
    # the receiver keys every record by its message: each was joined where it was read
    assert read_topics(broker.bootstrap, [receiver.settings.events_topic]) == []
    assert worker.stop(signal.SIGINT) == 0, worker.output()


def test_a_record_not_keyed_by_its_message_is_rekeyed_and_joined(
    receiver: RunningReceiver, broker: BrokerUnderTest, start_worker: WorkerFactory
) -> None:
    worker = start_worker(broker.bootstrap)
    settings = receiver.settings
    route = receiver.route("/webhooks/smsgateway24/status")
    assert httpx.post(route, content=status_body("rekeyed", 1), headers=JSON).status_code == 202
    # the delivery report written by another producer, without a key
    envelope = {
        "provider": "smsgateway24",
        "kind": "status",
        "request_id": "written-by-hand",
        "index": 0,
        "received_at": datetime.now(UTC).isoformat(),
        "payload": orjson.loads(status_body("rekeyed", 7)),
    }
    asyncio.run(_produce(settings, settings.webhook_topic("smsgateway24", "status"), envelope))

    # The unkeyed record may sit on another partition, read first: the delivered status
    # can be joined before the sent one, so wait for both events, not for delivered.
    deadline = time.monotonic() + 60
    while (fact := read_facts(settings).messages.get("smsgateway24:rekeyed")) is None or (
        fact["events"] < 2
    ):
        assert time.monotonic() < deadline, f"not both joined in 60 s: {fact}"
        time.sleep(0.5)
    assert fact["events"] == 2, fact
    assert fact["status"] == "delivered", fact
    rekeyed = read_topics(broker.bootstrap, [settings.events_topic])
    assert [record.key for record in rekeyed] == [b"smsgateway24:rekeyed"]
    assert worker.stop(signal.SIGINT) == 0, worker.output()


async def _produce(settings: Settings, topic: str, value: dict[str, Any]) -> None:
    producer = make_producer(settings, enable_idempotence=False)  # as the embedded broker needs
    await producer.start()
    try:
        await producer.send_and_wait(topic, orjson.dumps(value), key=None)
    finally:
        await producer.stop()


def test_two_workers_in_one_group_give_the_facts_of_one(
    receiver: RunningReceiver,
    broker: BrokerUnderTest,
    start_worker: WorkerFactory,
) -> None:
    workers = [start_worker(broker.bootstrap), start_worker(broker.bootstrap)]
    result = simulate(receiver, seed=23, messages=400)
    try:
        assert_matches_truth(receiver, result)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{trace_lost_events(receiver, broker, result)}") from None
    for worker in workers:
        assert worker.stop(signal.SIGINT) == 0, worker.output()
    # both did work: each wrote facts from its own partitions
    assert all("Assigned" in w.output() or "assigned" in w.output() for w in workers)


def trace_lost_events(
    receiver: RunningReceiver, broker: BrokerUnderTest, result: SimulationResult
) -> str:
    """Where the events of the messages that came out wrong were lost: for each, its event
    count in the truth, its events on the events topic (re-keyed ones, with partition and
    offset) and in the status_events facts (the join's output)."""
    want = expected_messages(result.messages)
    truths = {f"{m.provider}:{m.message_id}": m for m in result.messages}
    facts = read_facts(receiver.settings)
    got = actual_messages(facts)
    wrong = [key for key in want if got.get(key) != want[key]][:5]
    events = read_topics(broker.bootstrap, [receiver.settings.events_topic])
    lines = ["where the events of the wrong messages are:"]
    for key in wrong:
        truth = truths[key]
        on_topic = sorted(
            {
                (r.partition, r.offset, orjson.loads(r.value)["status"])
                for r in events
                if r.key == key.encode()
            }
        )
        joined = sorted(
            e["status"]
            for e in facts.status_events.values()
            if f"{e['provider']}:{e['message_id']}" == key
        )
        lines.append(
            f"  {key}: truth {truth.events} events, ending {truth.status.value}; events topic"
            f" {on_topic}; status_events {joined}"
        )
    return "\n".join(lines)


def test_rocksdb_store_recovers_state_after_restart(
    receiver: RunningReceiver,
    broker: BrokerUnderTest,
    start_worker: WorkerFactory,
    tmp_path: Path,
    topic_prefix: str,
) -> None:
    store = {"SMSRADAR_TABLE_STORE": "rocksdb://", "slot": "rocks"}
    worker = start_worker(broker.bootstrap, **store)
    start = datetime.now(UTC).replace(microsecond=0)
    first = simulate(receiver, seed=24, messages=200, start=start)
    assert_matches_truth(receiver, first)
    assert worker.stop(signal.SIGTERM) == 0, worker.output()
    assert list(tmp_path.glob("worker-data-rocks/streams/**/join-state-*.db"))
    restarted = start_worker(broker.bootstrap, **store)
    # the same traffic again: every event a duplicate, nothing may change (once the restarted
    # worker has read it all; the facts of the first run would pass before)
    again = simulate(receiver, seed=24, messages=200, start=start)
    wait_for_group_caught_up(
        broker.bootstrap, worker_app_id(topic_prefix), webhook_topic_names(receiver.settings)
    )
    assert_matches_truth(receiver, again)
    assert restarted.stop(signal.SIGINT) == 0, restarted.output()


def test_the_held_changelog_holds_what_rocksdb_holds_up_to_its_persisted_offsets(
    receiver: RunningReceiver,
    broker: BrokerUnderTest,
    start_worker: WorkerFactory,
    tmp_path: Path,
    topic_prefix: str,
) -> None:
    """The join's changelog records go out a batch at a time (``streams.changelog``): every
    partition's changelog must end with what its RocksDB database holds, and the database's
    persisted offset (where recovery starts reading) must be the changelog's last offset."""
    worker = start_worker(broker.bootstrap, SMSRADAR_TABLE_STORE="rocksdb://", slot="held")
    assert_matches_truth(receiver, simulate(receiver, seed=25, messages=200))
    assert worker.stop(signal.SIGTERM) == 0, worker.output()

    changelog = f"{worker_app_id(topic_prefix)}-join-state-changelog"
    latest: dict[int, dict[bytes, bytes | None]] = {}
    last_offset: dict[int, int] = {}
    for record in read_topics(broker.bootstrap, [changelog]):
        assert record.key is not None
        latest.setdefault(record.partition, {})[record.key] = record.value or None
        last_offset[record.partition] = max(last_offset.get(record.partition, -1), record.offset)
    databases = sorted(tmp_path.glob("worker-data-held/streams/**/join-state-*.db"))
    assert databases and last_offset
    offset_key = b"__faust\0offset__"
    checked = 0
    for path in databases:
        partition = int(path.name.removesuffix(".db").rsplit("-", 1)[1])
        database = rocksdict.Rdict(str(path), options=rocksdict.Options(raw_mode=True))
        try:
            stored = {key: value for key, value in database.items() if key != offset_key}
            persisted = database.get(offset_key)
        finally:
            database.close()
        expected = {k: v for k, v in latest.get(partition, {}).items() if v is not None}
        assert stored == expected, f"partition {partition}: RocksDB and changelog differ"
        if partition in last_offset:
            assert persisted is not None, f"partition {partition}: no persisted offset"
            assert int(persisted) == last_offset[partition]
            checked += 1
    assert checked, "no partition of the changelog had a database to compare"


def test_poison_event_is_dead_lettered_and_the_worker_goes_on(
    receiver: RunningReceiver, broker: BrokerUnderTest, start_worker: WorkerFactory
) -> None:
    worker = start_worker(broker.bootstrap)
    route = receiver.route("/webhooks/smsgateway24/status")
    poison = {"sms_id": 666, "status_id": 7, "senttime": "1970-01-02 00:00:00", "device_id": 1}
    assert httpx.post(route, json=poison).status_code == 202  # valid webhook, broken clock
    result = simulate(receiver, seed=25, messages=100)
    assert_matches_truth(receiver, result)  # everything after the poison was processed
    dead = [
        record
        for record in read_topics(broker.bootstrap, [receiver.settings.deadletter_topic])
        if record.headers.get("source") == b"streams"
    ]
    assert len(dead) == 1, dead
    assert dead[0].headers["stage"] == b"normalize"
    assert b"before 2000" in dead[0].headers["reason"]
    assert b'"sms_id":666' in dead[0].value
    assert "smsgateway24:666" not in read_facts(receiver.settings).messages
    assert worker.stop(signal.SIGINT) == 0, worker.output()
