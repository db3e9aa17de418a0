"""The ``smsradar`` command line: the composition root that wires the parts together.

Parts are imported inside their commands so ``smsradar --help`` stays fast and each
command loads only what it runs.
"""

from __future__ import annotations

import functools
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from smsradar.logs import configure_logging
from smsradar.settings import Settings, SettingsError, load_settings

F = TypeVar("F", bound=Callable[..., Any])


def data_dir_option(command: F) -> F:
    """``--data-dir``, shared by every command (overrides SMSRADAR_DATA_DIR)."""

    @click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Where the analytics store lives [env SMSRADAR_DATA_DIR; default ./data].",
    )
    @functools.wraps(command)
    def wrapper(*args: Any, data_dir: Path | None, **kwargs: Any) -> Any:
        overrides: dict[str, Any] = {} if data_dir is None else {"data_dir": data_dir}
        return command(*args, settings=settings_or_exit(**overrides), **kwargs)

    return wrapper  # type: ignore[return-value]


def settings_or_exit(**overrides: Any) -> Settings:
    try:
        settings = load_settings(**overrides)
    except SettingsError as exc:
        click.echo(f"smsradar: {exc}", err=True)
        sys.exit(2)
    configure_logging(settings.log_level, settings.log_format)
    return settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="smsradar")
def main() -> None:
    """smsradar: live delivery analytics and failure alerts from SMS gateway webhooks.

    Settings come from SMSRADAR_* environment variables (and ./.env); the README lists
    them all. `smsradar up --simulate` runs everything on this machine with fake traffic.
    """


@main.command()
@data_dir_option
@click.option("--receiver-port", type=int, default=None, help="Receiver port [default 8080].")
@click.option("--dashboard-port", type=int, default=None, help="Dashboard port [default 8501].")
@click.option("--no-dashboard", is_flag=True, help="Do not start the dashboard.")
@click.option("--simulate", is_flag=True, help="Also post simulated gateway traffic.")
@click.option("--rate", type=float, default=20.0, show_default=True, help="Simulated webhooks/s.")
def up(
    settings: Settings,
    receiver_port: int | None,
    dashboard_port: int | None,
    no_dashboard: bool,
    simulate: bool,
    rate: float,
) -> None:
    """Run the whole system on this machine until Ctrl-C.

    Starts the embedded broker (unless SMSRADAR_KAFKA_BOOTSTRAP is set) and the
    receiver, then prints their URLs.
    """
    from smsradar.up import run_up

    overrides: dict[str, Any] = {"data_dir": settings.data_dir}
    if receiver_port is not None:
        overrides["receiver_port"] = receiver_port
    if dashboard_port is not None:
        overrides["dashboard_port"] = dashboard_port
    sys.exit(
        run_up(
            settings.model_copy(update=overrides),
            dashboard=not no_dashboard,
            simulate_rate=rate if simulate else None,
        )
    )


@main.command()
@data_dir_option
@click.option("--host", default=None, help="Interface to listen on [default 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port to listen on [default 8080].")
def receiver(settings: Settings, host: str | None, port: int | None) -> None:
    """Run the webhook receiver (HTTP -> Kafka) alone."""
    from receiver.server import serve

    overrides: dict[str, Any] = {}
    if host is not None:
        overrides["receiver_host"] = host
    if port is not None:
        overrides["receiver_port"] = port
    serve(settings.model_copy(update=overrides))


@main.command()
@data_dir_option
def worker(settings: Settings) -> None:
    """Run a stream worker (Faust): webhooks -> per-message facts and failure-rate windows.

    Several workers with the same SMSRADAR_APP_ID share the partitions between them.
    """
    from streams.worker import run_worker

    run_worker(settings)


@main.command()
@data_dir_option
@click.option(
    "--port", type=int, default=None, help="Port [default SMSRADAR_EMBEDDED_BROKER_PORT, 19092]."
)
def broker(settings: Settings, port: int | None) -> None:
    """Run the embedded Kafka-compatible broker (Tansu, memory only) until Ctrl-C."""
    from smsradar.broker import EmbeddedBroker

    embedded = EmbeddedBroker(port=settings.embedded_broker_port if port is None else port)
    embedded.start()
    click.echo(f"broker: {embedded.bootstrap}", err=False)

    def stop(*_: object) -> None:
        embedded.terminate()  # the main thread's wait() then returns

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = embedded.wait()
    embedded.stop()
    logging.getLogger(__name__).info("broker stopped", extra={"code": code})
