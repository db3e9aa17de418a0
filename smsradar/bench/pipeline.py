"""Pipeline throughput: one worker from webhook topics to fact topics, on simulator traffic.

Baseline: a plain aiokafka consumer reading the same records and doing only ``json.loads``.
The worker is started and warmed up first, then the whole load is produced at once and
timed until the consumer group's committed offsets reach the end of every input topic
(webhook topics, then the canonical events topic).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from smsradar.bench import Measurement, progress
from smsradar.broker import EmbeddedBroker
from smsradar.kafka import make_producer
from smsradar.model import message_key
from smsradar.providers import ADAPTERS
from smsradar.providers.base import Endpoint
from smsradar.settings import Settings
from smsradar.simulator.traffic import TrafficConfig, TrafficGenerator

ENDPOINTS: dict[str, tuple[str, Endpoint]] = {
    endpoint.path: (adapter.name, endpoint)
    for adapter in ADAPTERS.values()
    for endpoint in adapter.endpoints
}


def webhook_records(settings: Settings, messages: int, seed: int) -> list[tuple[str, bytes, bytes]]:
    """(topic, key, envelope) for simulator traffic, exactly as the receiver publishes it."""
    generator = TrafficGenerator(TrafficConfig(seed=seed, messages=messages, rate=200))
    received_at = datetime.now(UTC).isoformat()
    records = []
    for webhook in generator.webhooks():
        provider, endpoint = ENDPOINTS[webhook.route]
        request_id = str(uuid.uuid4())
        for index, parsed in enumerate(endpoint.parse(webhook.body)):
            envelope = {
                "provider": provider,
                "kind": parsed.kind,
                "request_id": request_id,
                "index": index,
                "received_at": received_at,
                "payload": parsed.payload,
            }
            records.append(
                (
                    settings.webhook_topic(provider, parsed.kind),
                    message_key(provider, parsed.message_id).encode(),
                    orjson.dumps(envelope),
                )
            )
    return records


async def produce(settings: Settings, records: list[tuple[str, bytes, bytes]]) -> None:
    producer = make_producer(settings, linger_ms=20, max_batch_size=256 * 1024)
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for topic, key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def baseline_json_loads(settings: Settings, topics: list[str], expected: int) -> float:
    """Records/s of a plain consumer that only parses JSON."""
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.bootstrap_servers,
        group_id=f"bench-baseline-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        seen, started = 0, time.perf_counter()
        while seen < expected:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for records in batch.values():
                for record in records:
                    json.loads(record.value)
                seen += len(records)
        return seen / (time.perf_counter() - started)
    finally:
        await consumer.stop()


async def caught_up(settings: Settings, topics: list[str]) -> bool:
    """Has the worker's group committed the end offset of every partition of ``topics``?"""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=settings.app_id,
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p) for topic in topics for p in range(settings.topic_partitions)
        ]
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            if ends[tp] and (await consumer.committed(tp) or 0) < ends[tp]:
                return False
        return True
    finally:
        await consumer.stop()


def measure_pipeline(messages: int = 20_000, seed: int = 1) -> list[Measurement]:
    with tempfile.TemporaryDirectory(prefix="smsradar-bench-") as scratch:
        broker = EmbeddedBroker()
        broker.start()
        try:
            return _measure(broker, Path(scratch), messages, seed)
        finally:
            broker.stop()


def _measure(broker: EmbeddedBroker, scratch: Path, messages: int, seed: int) -> list[Measurement]:
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    settings = Settings(
        kafka_bootstrap=broker.bootstrap,
        topic_prefix=prefix,
        app_id=f"{prefix}-streams",
        kafka_idempotence=False,
        data_dir=scratch,
    )
    progress(f"pipeline: generating {messages} messages of simulator traffic")
    warmup = webhook_records(settings, 20, seed + 1)
    records = webhook_records(settings, messages, seed)
    webhook_topics = sorted({topic for topic, _, _ in records + warmup})
    env = {
        **os.environ,
        "SMSRADAR_KAFKA_BOOTSTRAP": broker.bootstrap,
        "SMSRADAR_KAFKA_IDEMPOTENCE": "false",
        "SMSRADAR_TOPIC_PREFIX": prefix,
        "SMSRADAR_APP_ID": settings.app_id,
        "SMSRADAR_DATA_DIR": str(scratch),
        "SMSRADAR_LOG_LEVEL": "WARNING",
    }
    log = (scratch / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "smsradar", "worker"], env=env, stdout=log, stderr=log
    )
    try:
        asyncio.run(produce(settings, warmup))
        progress("pipeline: waiting for the worker to process a warm-up batch")
        _wait(settings, [*webhook_topics, settings.events_topic], timeout_s=120)
        progress(f"pipeline: producing {len(records)} webhook records")
        started = time.perf_counter()
        asyncio.run(produce(settings, records))
        _wait(settings, webhook_topics, timeout_s=600)
        _wait(settings, [*webhook_topics, settings.events_topic], timeout_s=600)
        worker_rate = len(records) / (time.perf_counter() - started)
    finally:
        worker.send_signal(signal.SIGINT)
        worker.wait(60)
        log.close()
    progress("pipeline: baseline consumer")
    baseline = asyncio.run(
        baseline_json_loads(settings, webhook_topics, len(records) + len(warmup))
    )
    return [
        Measurement(
            name="pipeline_events_per_s",
            value=round(worker_rate, 1),
            unit="events/s",
            baseline=round(baseline, 1),
            baseline_name="aiokafka consumer + json.loads",
            parameters={"messages": messages, "webhooks": len(records), "workers": 1},
        )
    ]


def _wait(settings: Settings, topics: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not asyncio.run(caught_up(settings, topics)):
        if time.monotonic() > deadline:
            raise TimeoutError(f"worker did not catch up on {topics} in {timeout_s}s")
        time.sleep(0.25)
