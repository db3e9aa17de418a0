"""A worker stops cleanly, with exit 0, on SIGINT or SIGTERM whenever it gets one.

While it starts (waiting for the broker, say) smsradar.signals handles the signal; once
Faust's worker runs, Faust's own handlers do and smsradar's must be out of the way.
"""

from __future__ import annotations

import signal

import pytest

from smsradar.broker import free_port
from smsradar.signals import STOP_SIGNALS
from tests.conftest import ON_FIRST_BROKER, WorkerFactory
from tests.support.brokers import BrokerUnderTest

pytestmark = pytest.mark.integration

EACH_STOP_SIGNAL = pytest.mark.parametrize("stop_signal", STOP_SIGNALS, ids=lambda s: s.name)


@EACH_STOP_SIGNAL
def test_a_worker_waiting_for_the_broker_stops_cleanly(
    start_worker: WorkerFactory, stop_signal: signal.Signals
) -> None:
    worker = start_worker(f"127.0.0.1:{free_port()}")  # nothing listens there
    # aiokafka's line for each refused connection: the worker is creating its topics
    worker.wait_until(
        lambda: "Unable connect to" in worker.output(), 60, "the worker waiting for the broker"
    )
    assert worker.stop(stop_signal) == 0, worker.output()
    output = worker.output()
    assert "worker stopped before it started" in output, output
    assert stop_signal.name in output, output
    assert "Traceback" not in output, output
    assert "Task was destroyed but it is pending" not in output, output


@ON_FIRST_BROKER
@EACH_STOP_SIGNAL
def test_a_running_worker_stops_through_fausts_handlers(
    broker: BrokerUnderTest, start_worker: WorkerFactory, stop_signal: signal.Signals
) -> None:
    worker = start_worker(broker.bootstrap)
    worker.wait_until(lambda: "[^Worker]: Ready" in worker.output(), 90, "the worker ready")
    assert worker.stop(stop_signal) == 0, worker.output()
    output = worker.output()
    assert f"Signal received: {int(stop_signal)}" in output, output
    assert "Closing event loop" in output, output
    assert "before it started" not in output, output
