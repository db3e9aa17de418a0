"""Alerting through the real receiver, broker, worker and sink, at an accelerated clock.

One scenario covers the issue's three promises, as one run of the pipeline is minutes of
CPU here: two hours (event time) of normal simulator traffic fire nothing; then a
failure spike on one device fires exactly one alert, for that device, within the rule's
window plus ``for_s`` of the spike's start; the worker is killed with SIGKILL while the
alert fires and restarted; the alert resolves after the spike ends; and the notification
target, answering 500 to its first tries, receives exactly one firing and one resolved
payload.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from smsradar import simulator
from smsradar.facts import AlertFact
from streams.alerting.rules import default_rules
from tests.conftest import ON_FIRST_BROKER, RunningReceiver, WorkerFactory
from tests.support.brokers import BrokerUnderTest
from tests.support.kafka import read_topics
from tests.support.notification_target import NotificationTarget
from tests.support.processes import smsradar_argv, wait_for

# Serial: the spike is judged only while the worker keeps up with the posting. Run beside
# other tests under xdist it once fired nothing in 600 s with every spike window in the
# store. The lagging worker most likely read its partitions' backlogs unevenly: the
# series' event-time clock ran ahead and the detector dropped the spike's windows as too
# late (a known limit, shown by the strict xfail in tests/streams/test_alert_detector.py).
pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.serial,
    pytest.mark.timeout(1500),
]

# Minutes of CPU per run: on the first broker under test only; the worker's crash and scale
# behaviour on Apache Kafka is tests/faults' and tests/streams/test_pipeline.py's.

SPIKE_FROM_S, SPIKE_TO_S = 120 * 60, 128 * 60  # after two hours of normal traffic
# 4 webhooks per simulated second (one message): 140 minutes of event time, and each
# device (a tenth of the messages) reports ~6 outcomes a minute, ~36 in the device
# rule's window, above its min_volume (20), so that its noise is judged, not ignored.
RATE = 4
MESSAGES = int(140 * 60 * RATE / 4)
DEVICE_RULE = next(rule for rule in default_rules() if rule.dimension == "device")


@ON_FIRST_BROKER
def test_spike_fires_one_alert_notified_once_across_a_worker_kill(
    receiver: RunningReceiver,
    broker: BrokerUnderTest,
    start_worker: WorkerFactory,
    start_sink: WorkerFactory,
    tmp_path: Path,
) -> None:
    target = NotificationTarget(failures=2)
    try:
        env = {"SMSRADAR_ALERT_WEBHOOK_URL": target.url}
        worker = start_worker(broker.bootstrap, **env)
        sink = start_sink(broker.bootstrap)
        start = (datetime.now(UTC) - timedelta(minutes=150)).replace(second=0, microsecond=0)
        spike = simulator.Spike("device", "1004", 0.6, SPIKE_FROM_S, SPIKE_TO_S)
        traffic = simulator.TrafficConfig(
            seed=31, rate=RATE, messages=MESSAGES, spikes=(spike,), start=start
        )
        posting = simulator.PostConfig(url=receiver.url, rate=800, concurrency=16)
        result = asyncio.run(simulator.run_async(traffic, posting))
        assert all(outcome.status == 202 for outcome in result.report.outcomes)

        wait_for(lambda: target.states(), 600, "a firing notification")
        time.sleep(1)  # in the middle of the firing alert
        worker.process.kill()
        worker.process.wait()
        restarted = start_worker(broker.bootstrap, **env)
        wait_for(lambda: len(target.states()) >= 2, 600, "a resolved notification")
        time.sleep(5)  # room for a duplicate to show up
        states = target.states()
        print(f"notifications: {states}, target attempts {target.attempts}")
        assert [state for _, state in states] == ["firing", "resolved"]
        assert states[0][0] == states[1][0]
        assert target.attempts == 4  # two 500s, then one delivery per state

        alerts_topic = receiver.settings.fact_topic("alerts")
        records = read_topics(broker.bootstrap, [alerts_topic])
        latest = {r.key: AlertFact.model_validate_json(r.value) for r in records}
        print(f"alert facts: {len(records)} records, {len(latest)} alerts")
        ((alert,),) = [list(latest.values())]
        assert (alert.dimension, alert.dimension_value, alert.state) == (
            "device",
            "1004",
            "resolved",
        )
        spike_start = start + timedelta(seconds=SPIKE_FROM_S)
        delay = alert.fired_at - spike_start
        print(f"detection delay (event time): {delay.total_seconds():.0f} s")
        assert timedelta(0) < delay <= timedelta(seconds=DEVICE_RULE.window_s + DEVICE_RULE.for_s)
        assert alert.resolved_at is not None
        assert alert.resolved_at > start + timedelta(seconds=SPIKE_TO_S)

        def listed() -> list[dict[str, object]]:
            run = subprocess.run(
                [
                    *smsradar_argv("alerts", "--format", "json"),
                    "--data-dir",
                    str(tmp_path / "data"),
                ],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
            return list(json.loads(run.stdout))

        wait_for(lambda: len(listed()) == 1 and listed()[0]["state"] == "resolved", 30, "alerts")
        assert listed()[0]["alert_id"] == alert.alert_id
        assert restarted.stop(signal.SIGINT) == 0, restarted.output()
        assert sink.stop(signal.SIGINT) == 0, sink.output()
    finally:
        target.close()
