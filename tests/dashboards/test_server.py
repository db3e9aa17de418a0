"""``smsradar dashboard`` as a user runs it: a real Streamlit server, real signals."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import httpx
import psutil
import pytest

from smsradar.broker import free_port
from tests.support.processes import ManagedProcess, smsradar_argv

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_dashboard_serves_the_app_and_stops_cleanly(
    seeded_dir: Path, tmp_path: Path, stop_signal: int
) -> None:
    port = free_port()
    dashboard = ManagedProcess(
        smsradar_argv("dashboard", "--port", str(port), "--data-dir", str(seeded_dir)),
        {"SMSRADAR_LOG_FORMAT": "text"},
        tmp_path / "dashboard.log",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        dashboard.wait_until(lambda: f"dashboard: {url}" in dashboard.output(), 90, "URL printed")
        assert httpx.get(f"{url}/_stcore/health", timeout=5).text == "ok"
        page = httpx.get(url, timeout=5)
        assert page.status_code == 200 and "<title>" in page.text
        children = psutil.Process(dashboard.pid).children(recursive=True)
        assert any("streamlit" in " ".join(c.cmdline()) for c in children)
        assert "--browser.gatherUsageStats=false" in " ".join(children[0].cmdline())
    finally:
        code = dashboard.stop(stop_signal, timeout_s=30)
    assert code == 0, dashboard.output()
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]


def test_dashboard_fails_with_the_reason_when_its_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        dashboard = ManagedProcess(
            smsradar_argv("dashboard", "--port", str(port), "--data-dir", str(tmp_path)),
            {},
            tmp_path / "dashboard.log",
        )
        code = dashboard.process.wait(90)
        dashboard.stop()
    assert code != 0
    assert "streamlit exited" in dashboard.output()
