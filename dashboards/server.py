"""``smsradar dashboard``: the Streamlit server for dashboards/app.py, as a child process.

Streamlit runs under its own CLI (``python -m streamlit run``), headless, without usage
statistics or file watching. This process waits until it answers its health check,
prints ``dashboard: http://…``, and on SIGINT/SIGTERM stops it and waits for it. The
child has its own session (a terminal's Ctrl-C reaches only us, who stop it in order)
and gets SIGTERM if we die.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import click
import httpx

from smsradar.broker import free_port
from smsradar.settings import Settings
from smsradar.supervisor import die_with_parent

log = logging.getLogger(__name__)

APP = Path(__file__).with_name("app.py")
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


def streamlit_argv(settings: Settings, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.headless=true",
        f"--server.address={settings.dashboard_host}",
        f"--server.port={port}",
        "--server.fileWatcherType=none",
        "--server.runOnSave=false",
        "--browser.gatherUsageStats=false",
        "--client.toolbarMode=viewer",
        "--logger.level=warning",
    ]


def url(settings: Settings, port: int) -> str:
    host = settings.dashboard_host
    shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    return f"http://{shown}:{port}"


def healthy(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/_stcore/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def serve(settings: Settings) -> int:
    """Run the dashboard until SIGINT/SIGTERM (exit 0) or until Streamlit exits (its code)."""
    port = settings.dashboard_port or free_port()
    base_url = url(settings, port)
    stop = threading.Event()

    def request_stop(*_: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    # The app reads its settings from the environment: pass the resolved store path on.
    env = {**os.environ, "SMSRADAR_DATA_DIR": str(Path(settings.data_dir).resolve())}
    child = subprocess.Popen(
        streamlit_argv(settings, port),
        env=env,
        stdout=sys.stderr,  # Streamlit's banner is not ours: stdout carries our one line
        start_new_session=True,
        preexec_fn=die_with_parent,
    )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not healthy(base_url):
            if child.poll() is not None:
                click.echo(
                    f"smsradar dashboard: streamlit exited with {child.returncode}", err=True
                )
                return child.returncode or 1
            if stop.is_set():
                return 0
            if time.monotonic() > deadline:
                click.echo(f"smsradar dashboard: not ready after {READY_TIMEOUT_S:g}s", err=True)
                return 1
            time.sleep(0.1)
        click.echo(f"dashboard: {base_url}")
        while not stop.wait(0.5):
            if child.poll() is not None:
                log.error("streamlit exited unexpectedly with %s", child.returncode)
                return child.returncode or 1
        return 0
    finally:
        _stop(child)


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is not None:
        return
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        log.warning("streamlit did not stop in %ss; killing it", STOP_TIMEOUT_S)
        child.kill()
        child.wait()
