"""Memory: peak RSS of the worker and of the sink with N messages in flight.

A message is in flight when it got a first status but no terminal one. N pending
SMSGateway24 status webhooks (one per fresh message id, ``status_id`` 1) are published to the
webhook topic exactly as the receiver publishes them, then the worker (``smsradar worker``,
table store ``rocksdb://`` unless told otherwise) and the sink (``smsradar sink``) run until
they have consumed everything: the worker then holds N open lifecycles in its table and the
store N rows in ``messages``. psutil samples each process tree's RSS every 0.2 s throughout;
the peak is the measurement.

The full run keeps 1,000,000 messages in flight (the worker consumed them in 731 s alone
and in 1,284 s beside other tests, on 2 shared cores); the number is in its parameters.

Baseline: the RSS of the same process idle just after start-up (caught up on a warm-up of 20
messages, so its imports and connections are in place).
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import psutil

from analytics.relations import RELATIONS
from smsradar.bench import Measurement, progress
from smsradar.bench.loadgen import status_body
from smsradar.bench.pipeline import _wait as wait_caught_up
from smsradar.bench.pipeline import produce
from smsradar.bench.processes import BenchProcess, bench_settings, process_env, smsradar_argv
from smsradar.broker import EmbeddedBroker
from smsradar.model import message_key
from smsradar.providers import ADAPTERS
from smsradar.settings import Settings

SAMPLE_EVERY_S = 0.2
CHUNK = 50_000


class RssSampler(threading.Thread):
    """Samples the RSS of process trees (a process and its children) until stopped."""

    def __init__(self, pids: dict[str, int]) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.peak = dict.fromkeys(pids, 0)
        self.last = dict.fromkeys(pids, 0)
        self._stop_event = threading.Event()

    def rss(self, name: str) -> int:
        process = self.processes[name]
        try:
            tree = [process, *process.children(recursive=True)]
            return sum(p.memory_info().rss for p in tree)
        except psutil.Error:
            return 0

    def run(self) -> None:
        while not self._stop_event.wait(SAMPLE_EVERY_S):
            for name in self.processes:
                self.last[name] = self.rss(name)
                self.peak[name] = max(self.peak[name], self.last[name])

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def pending_records(
    settings: Settings, prefix: str, count: int
) -> Iterator[tuple[str, bytes, bytes]]:
    """(topic, key, envelope) of ``count`` pending status webhooks, as the receiver writes them."""
    (endpoint,) = [e for e in ADAPTERS["smsgateway24"].endpoints if e.path.endswith("/status")]
    topic = settings.webhook_topic("smsgateway24", "status")
    received_at = datetime.now(UTC).isoformat()
    for number in range(count):
        (webhook,) = endpoint.parse(orjson.loads(status_body(f"{prefix}{number}")))
        envelope = {
            "provider": "smsgateway24",
            "kind": webhook.kind,
            "request_id": uuid.uuid4().hex,
            "index": 0,
            "received_at": received_at,
            "payload": webhook.payload,
        }
        key = message_key("smsgateway24", webhook.message_id).encode()
        yield topic, key, orjson.dumps(envelope)


def measure_memory(messages: int = 1_000_000, table_store: str = "rocksdb://") -> list[Measurement]:
    with tempfile.TemporaryDirectory(prefix="smsradar-bench-") as scratch:
        broker = EmbeddedBroker()
        broker.start()
        try:
            return _measure(broker, Path(scratch), messages, table_store)
        finally:
            broker.stop()


def _produce(settings: Settings, prefix: str, count: int) -> None:
    records = pending_records(settings, prefix, count)
    while chunk := [record for _, record in zip(range(CHUNK), records, strict=False)]:
        asyncio.run(produce(settings, chunk))


def _measure(
    broker: EmbeddedBroker, scratch: Path, messages: int, table_store: str
) -> list[Measurement]:
    settings = bench_settings(broker.bootstrap, scratch / "store")
    sink_group = settings.model_copy(update={"app_id": f"{settings.app_id}-sink"})
    worker_topics = [settings.webhook_topic("smsgateway24", "status"), settings.events_topic]
    fact_topics = [settings.fact_topic(name) for name in RELATIONS]
    env = process_env(settings, scratch / "worker", SMSRADAR_TABLE_STORE=table_store)
    worker = BenchProcess("worker", smsradar_argv("worker"), env, scratch)
    sink = BenchProcess("sink", smsradar_argv("sink"), process_env(settings), scratch)
    sampler: RssSampler | None = None
    try:
        assert broker.pid is not None
        sampler = RssSampler({"worker": worker.pid, "sink": sink.pid, "broker": broker.pid})
        sampler.start()
        progress("memory: warming up worker and sink on 20 messages")
        _produce(settings, "warm-", 20)
        wait_caught_up(settings, worker_topics, timeout_s=180)
        wait_caught_up(sink_group, fact_topics, timeout_s=120)
        time.sleep(1.0)
        idle = {name: sampler.rss(name) for name in ("worker", "sink", "broker")}
        started = time.monotonic()
        progress(f"memory: publishing {messages} pending webhooks")
        _produce(settings, f"open-{uuid.uuid4().hex[:6]}-", messages)
        progress("memory: waiting for the worker and the sink to consume them")
        wait_caught_up(settings, worker_topics, timeout_s=3600)
        worker_done = time.monotonic() - started
        wait_caught_up(sink_group, fact_topics, timeout_s=3600)
        elapsed = time.monotonic() - started
        # The embedded broker's end offsets stop short of the log end by up to a batch, so
        # "caught up" may come a batch early: keep sampling a little longer.
        time.sleep(2.0)
        final = dict(sampler.last)
        peak = dict(sampler.peak)
    finally:
        if sampler is not None:
            sampler.stop()
        for process in (worker, sink):
            process.stop()

    mib = 1024 * 1024
    parameters = {
        "messages_in_flight": messages,
        "webhooks": "one pending SMSGateway24 status per message, published as the receiver does",
        "table_store": table_store,
        "sample_every_s": SAMPLE_EVERY_S,
        "worker_caught_up_s": round(worker_done, 1),
        "sink_caught_up_s": round(elapsed, 1),
        "final_worker_mib": round(final["worker"] / mib, 1),
        "final_sink_mib": round(final["sink"] / mib, 1),
        "peak_broker_mib": round(peak["broker"] / mib, 1),
        "broker": "embedded",
    }
    return [
        Measurement(
            name=f"memory_{name}_peak_rss_mib",
            value=round(peak[name] / mib, 1),
            unit="MiB",
            baseline=round(idle[name] / mib, 1),
            baseline_name=f"idle {name} RSS just after start-up",
            parameters=parameters,
        )
        for name in ("worker", "sink")
    ]
