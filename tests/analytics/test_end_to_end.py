"""Receiver -> broker -> worker -> sink -> ``smsradar sql``, against simulator ground truth."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from smsradar import simulator
from tests.conftest import ReceiverFactory, RunningReceiver, WorkerFactory
from tests.support.brokers import BrokerUnderTest
from tests.support.facts import (
    actual_inbound,
    actual_messages,
    expected_inbound,
    expected_messages,
    expected_windows,
)
from tests.support.processes import http_ok
from tests.support.store import (
    quantile_cont,
    sql,
    status_counts,
    store_as_facts,
    store_windows,
    wait_for_store,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TWILIO_AUTH_TOKEN = "e2e-twilio-auth-token"
SMSGATE_SIGNING_KEY = "e2e-smsgate-signing-key"
GATEWAYS = {"smsgateway24", "smstools", "twilio", "smsgate"}


def test_sql_returns_the_ground_truth(
    start_receiver: ReceiverFactory,
    broker: BrokerUnderTest,
    start_worker: WorkerFactory,
    start_sink: WorkerFactory,
) -> None:
    """All four gateways, Twilio's and sms-gate.app's requests signed and checked."""
    receiver = start_receiver(
        broker.bootstrap,
        SMSRADAR_TWILIO_AUTH_TOKEN=TWILIO_AUTH_TOKEN,
        SMSRADAR_SMSGATE_SIGNING_KEY=SMSGATE_SIGNING_KEY,
    )
    receiver.process.wait_until(lambda: http_ok(receiver.route("/readyz")), 30, "/readyz")
    start_worker(broker.bootstrap)
    start_sink(broker.bootstrap)
    traffic = simulator.TrafficConfig(
        seed=41, rate=10, messages=400, invalid_rate=0.01
    ).with_all_gateways()
    posting = simulator.PostConfig(
        url=receiver.url,
        rate=800,
        concurrency=16,
        twilio_auth_token=TWILIO_AUTH_TOKEN,
        smsgate_signing_key=SMSGATE_SIGNING_KEY,
    )
    result = asyncio.run(simulator.run_async(traffic, posting))
    assert all(o.status == 202 for o in result.report.outcomes if o.valid)
    assert {m.provider for m in result.messages} == GATEWAYS
    settings = receiver.settings
    wait_for_store(settings, result.messages)

    facts = store_as_facts(settings)
    assert actual_messages(facts) == expected_messages(result.messages)
    assert actual_inbound(facts) == expected_inbound(result.inbound)
    by_provider = {
        r["provider"]: r["n"]
        for r in sql(settings, "SELECT provider, count(*) AS n FROM messages GROUP BY ALL")
    }
    assert by_provider == dict(Counter(m.provider for m in result.messages))

    by_status = {
        r["status"]: r["n"]
        for r in sql(settings, "SELECT status, count(*) AS n FROM messages GROUP BY ALL")
    }
    assert by_status == dict(status_counts(result.messages))

    windows = store_windows(settings)
    want = expected_windows(result.messages, settings.failure_window_s)
    assert windows == want
    device_rates = sql(
        settings,
        "SELECT window_start, dimension_value, failure_rate FROM failure_rates"
        " WHERE dimension = 'device'",
    )
    assert device_rates
    for row in device_rates:
        delivered, failed, _ = want[(_iso_key(row), "device", row["dimension_value"])]
        if delivered + failed:
            assert row["failure_rate"] == pytest.approx(failed / (delivered + failed))
        else:
            assert row["failure_rate"] is None

    latencies = [m.delivery_latency_s for m in result.messages if m.delivery_latency_s is not None]
    (row,) = sql(
        settings,
        "SELECT quantile_cont(delivery_latency_s, 0.5) AS p50,"
        " quantile_cont(delivery_latency_s, 0.95) AS p95,"
        " quantile_cont(delivery_latency_s, 0.99) AS p99 FROM messages",
    )
    for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        assert row[name] == pytest.approx(quantile_cont(latencies, q)), name
    print(f"store = truth: {len(result.messages)} messages, {len(windows)} windows, {by_status}")


def _iso_key(row: dict[str, object]) -> str:
    return datetime.fromisoformat(str(row["window_start"])).astimezone(UTC).isoformat()


def test_an_accepted_webhook_is_queryable_within_5_seconds(
    receiver: RunningReceiver,
    broker: BrokerUnderTest,
    start_worker: WorkerFactory,
    start_sink: WorkerFactory,
) -> None:
    start_worker(broker.bootstrap)
    start_sink(broker.bootstrap)
    settings = receiver.settings
    # Warm-up: the worker has joined and the pipeline moves.
    warmup = simulator.TrafficConfig(seed=42, rate=10, messages=5)
    asyncio.run(simulator.run_async(warmup, simulator.PostConfig(url=receiver.url, rate=50)))
    deadline = time.monotonic() + 120
    while not sql(settings, "SELECT 1 FROM messages LIMIT 1") and time.monotonic() < deadline:
        time.sleep(0.5)

    from analytics.reader import connect, run_query

    delays = []
    for number in range(3):
        message_id = f"fresh-{number}-{time.time_ns()}"
        body = {
            "sms_id": message_id,
            "status_id": 7,
            "status_message": "delivered",
            "sendto": "+32470123456",
            "senttime": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "device_id": 42,
            "sim": 0,
        }
        response = httpx.post(receiver.route("/webhooks/smsgateway24/status"), json=body)
        accepted = time.monotonic()
        assert response.status_code == 202, response.text
        while True:
            found = run_query(
                connect(settings), "SELECT 1 FROM messages WHERE message_id = ?", [message_id]
            ).rows
            if found or time.monotonic() - accepted > 30:
                break
            time.sleep(0.05)
        delays.append(time.monotonic() - accepted)
    print(f"202 -> visible in messages: {[round(d, 2) for d in delays]} s")
    assert max(delays) <= 5.0, delays


def test_worker_with_sink_writes_the_store_and_stops_cleanly(
    receiver: RunningReceiver, broker: BrokerUnderTest, start_worker: WorkerFactory, tmp_path: Path
) -> None:
    worker = start_worker(
        broker.bootstrap, "--with-sink", SMSRADAR_DATA_DIR=str(receiver.settings.data_dir)
    )
    traffic = simulator.TrafficConfig(seed=43, rate=10, messages=60)
    posting = simulator.PostConfig(url=receiver.url, rate=200, concurrency=8)
    result = asyncio.run(simulator.run_async(traffic, posting))
    wait_for_store(receiver.settings, result.messages)
    assert actual_messages(store_as_facts(receiver.settings)) == expected_messages(result.messages)
    assert worker.stop(signal.SIGINT) == 0, worker.output()
