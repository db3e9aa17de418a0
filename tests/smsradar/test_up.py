"""`smsradar up` and `smsradar broker` as a user runs them: real processes, real signals."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import psutil
import pytest

from smsradar.broker import free_port
from tests.support.processes import ManagedProcess, smsradar_argv

pytestmark = pytest.mark.integration

STATUS = {"sms_id": 1, "status_id": 6, "senttime": "2026-11-20 10:00:00", "device_id": 3}


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_up_prints_the_receiver_url_accepts_and_stops_cleanly(
    tmp_path: Path, stop_signal: int
) -> None:
    receiver_port, broker_port, dashboard_port = free_port(), free_port(), free_port()
    up = ManagedProcess(
        smsradar_argv(
            "up",
            "--receiver-port",
            str(receiver_port),
            "--dashboard-port",
            str(dashboard_port),
            "--data-dir",
            str(tmp_path),
        ),
        {"SMSRADAR_EMBEDDED_BROKER_PORT": str(broker_port), "SMSRADAR_LOG_FORMAT": "text"},
        tmp_path / "up.log",
    )
    try:
        url = f"http://127.0.0.1:{receiver_port}"
        up.wait_until(lambda: f"receiver: {url}" in up.output(), 60, "receiver URL printed")
        dashboard = f"http://127.0.0.1:{dashboard_port}"
        up.wait_until(lambda: f"dashboard: {dashboard}" in up.output(), 90, "dashboard URL")
        assert httpx.get(f"{dashboard}/_stcore/health", timeout=5).text == "ok"
        children = psutil.Process(up.pid).children(recursive=True)
        assert len(children) >= 3  # broker, receiver, dashboard (and worker, sink)
        response = httpx.post(f"{url}/webhooks/smsgateway24/status", json=STATUS, timeout=10)
        assert response.status_code == 202, response.text
    finally:
        code = up.stop(stop_signal, timeout_s=30)
    assert code == 0, up.output()
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]


def test_up_fails_with_the_reason_when_the_receiver_port_is_taken(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        up = ManagedProcess(
            smsradar_argv("up", "--receiver-port", str(port), "--no-dashboard"),
            {"SMSRADAR_EMBEDDED_BROKER_PORT": str(free_port()), "SMSRADAR_DATA_DIR": str(tmp_path)},
            tmp_path / "up.log",
        )
        code = up.process.wait(60)
        up.stop()
    assert code == 1
    assert "receiver exited" in up.output() or "not ready" in up.output()


def test_broker_command_serves_kafka_and_stops_on_sigterm(tmp_path: Path) -> None:
    from tests.support.kafka import read_topics

    port = free_port()
    broker = ManagedProcess(
        smsradar_argv("broker", "--port", str(port)), {}, tmp_path / "broker.log"
    )
    try:
        broker.wait_until(lambda: f"broker: 127.0.0.1:{port}" in broker.output(), 30, "ready")
        assert read_topics(f"127.0.0.1:{port}", ["nothing-here"], timeout_s=5) == []
    finally:
        assert broker.stop(signal.SIGTERM) == 0
