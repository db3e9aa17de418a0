"""``smsradar up``: the whole system on one machine, as one process tree.

Started in order broker, receiver, worker, sink, dashboard, simulator; the supervisor
stops them newest-first.
"""

from __future__ import annotations

import logging
import sys

import click
import httpx

from smsradar.broker import free_port, wait_for_port
from smsradar.settings import Settings
from smsradar.supervisor import Child, Supervisor, SupervisorError

log = logging.getLogger(__name__)


def _port_open(host: str, port: int) -> bool:
    try:
        wait_for_port(host, port, timeout_s=0)
    except Exception:
        return False
    return True


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "smsradar", *args]


def _start_dashboard(supervisor: Supervisor, settings: Settings, env: dict[str, str]) -> None:
    """``smsradar dashboard`` prints its own ``dashboard: http://…`` line once healthy;
    this waits for the same health check so the line is out before ``up`` goes on."""
    from dashboards.server import healthy, url

    port = settings.dashboard_port or free_port()
    base_url = url(settings, port)
    supervisor.start(
        Child(
            "dashboard",
            _command("dashboard", "--port", str(port)),
            ready=lambda: healthy(base_url),
            env={**env, "SMSRADAR_DASHBOARD_HOST": settings.dashboard_host},
        )
    )


def run_up(settings: Settings, *, dashboard: bool, simulate_rate: float | None) -> int:
    supervisor = Supervisor()
    supervisor.install_signal_handlers()
    env = {"SMSRADAR_DATA_DIR": str(settings.data_dir)}
    try:
        if settings.embedded_broker:
            port = settings.embedded_broker_port or free_port()
            supervisor.start(
                Child(
                    "broker",
                    _command("broker", "--port", str(port)),
                    ready=lambda: _port_open("127.0.0.1", port),
                )
            )
            env["SMSRADAR_KAFKA_BOOTSTRAP"] = f"127.0.0.1:{port}"
            # The embedded broker cannot do idempotent producers (DESIGN.md).
            env["SMSRADAR_KAFKA_IDEMPOTENCE"] = "false"
        receiver_url = f"http://{settings.receiver_host}:{settings.receiver_port}"
        supervisor.start(
            Child(
                "receiver",
                _command("receiver", "--port", str(settings.receiver_port)),
                ready=lambda: _http_ok(f"{receiver_url}/readyz"),
                env=env,
            )
        )
        supervisor.start(Child("worker", _command("worker"), ready=lambda: True, env=env))
        supervisor.start(Child("sink", _command("sink"), ready=lambda: True, env=env))
        click.echo(f"receiver: {receiver_url}", err=False)
        if dashboard:
            _start_dashboard(supervisor, settings, env)
        if simulate_rate is not None:
            supervisor.start(
                Child(
                    "simulator",
                    _command("simulate", "--url", receiver_url, "--rate", str(simulate_rate)),
                    ready=lambda: True,
                    env=env,
                )
            )
        click.echo("ready; Ctrl-C stops everything", err=True)
        sys.stdout.flush()
        return supervisor.wait(optional=("simulator",))
    except SupervisorError as exc:
        click.echo(f"smsradar up: {exc}", err=True)
        return 1
    finally:
        supervisor.stop_all()
