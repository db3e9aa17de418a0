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


def _listen_overrides(part: str, host: str | None, port: int | None) -> dict[str, Any]:
    """``--host``/``--port`` of a server command as overrides of its settings."""
    overrides: dict[str, Any] = {}
    if host is not None:
        overrides[f"{part}_host"] = host
    if port is not None:
        overrides[f"{part}_port"] = port
    return overrides


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

    Starts the embedded broker (unless SMSRADAR_KAFKA_BOOTSTRAP is set), the receiver,
    a stream worker, the sink and the dashboard, and prints the receiver's and the
    dashboard's URLs.

    The embedded broker keeps every record in memory, and its memory and CPU grow with
    them: fine for an hour or two of demo traffic (README, Deploying on Apache Kafka).
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

    serve(settings.model_copy(update=_listen_overrides("receiver", host, port)))


@main.command()
@data_dir_option
@click.option("--url", default=None, help="Receiver base URL [default http://127.0.0.1:8080].")
@click.option("--rate", type=float, default=20.0, show_default=True, help="Requests per second.")
@click.option("--duration", type=float, default=None, help="Stop after S seconds.")
@click.option("--messages", type=int, default=None, help="Stop after N outbound messages.")
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same traffic.")
@click.option(
    "--spike",
    "spikes",
    multiple=True,
    help="Failure spike, e.g. device=1003,rate=0.6,from=60,to=180 (seconds of simulated "
    "time; dimension one of device, sim (device/sim), country, provider). Repeatable.",
)
@click.option(
    "--invalid-rate",
    type=float,
    default=0.0,
    show_default=True,
    help="Share of extra malformed or schema-invalid requests.",
)
@click.option("--concurrency", type=int, default=16, show_default=True)
@click.option(
    "--truth",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write each message's expected final facts here (JSON lines).",
)
def simulate(
    settings: Settings,
    url: str | None,
    rate: float,
    duration: float | None,
    messages: int | None,
    seed: int,
    spikes: tuple[str, ...],
    invalid_rate: float,
    concurrency: int,
    truth: Path | None,
) -> None:
    """Post realistic SMSGateway24, Smstools, Twilio and sms-gate.app webhook traffic.

    Per-message lifecycles with log-normal latencies, failures that differ by device, SIM
    and country, inbound replies, ~2% duplicate and ~5% out-of-order deliveries. Runs
    until Ctrl-C unless --duration or --messages is given.
    """
    from smsradar import simulator
    from smsradar.providers import ADAPTERS

    try:
        parsed_spikes = tuple(simulator.parse_spike(text) for text in spikes)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--spike") from None
    traffic = simulator.TrafficConfig(
        seed=seed,
        rate=rate,
        messages=messages,
        invalid_rate=invalid_rate,
        spikes=parsed_spikes,
        smsgateway24_zone=settings.smsgateway24_timezone,
        smstools_zone=settings.smstools_timezone,
    ).with_all_gateways()
    token = settings.webhook_token.get_secret_value() if settings.webhook_token else None
    route_tokens = {
        endpoint.path: own.get_secret_value()
        for adapter in ADAPTERS.values()
        if (own := settings.webhook_token_for(adapter.name)) is not None
        for endpoint in adapter.endpoints
    }
    twilio_token, signing_key = settings.twilio_auth_token, settings.smsgate_signing_key
    posting = simulator.PostConfig(
        url=url or f"http://{settings.receiver_host}:{settings.receiver_port}",
        rate=rate,
        duration_s=duration,
        concurrency=concurrency,
        token=token,
        route_tokens=route_tokens,
        # signed as the gateways sign, so a receiver checking signatures accepts it
        twilio_auth_token=twilio_token.get_secret_value() if twilio_token else None,
        smsgate_signing_key=signing_key.get_secret_value() if signing_key else None,
        public_url=settings.receiver_public_url,
    )
    try:
        result = simulator.run(traffic, posting, lambda line: click.echo(line, err=True))
    except KeyboardInterrupt:
        sys.exit(130)
    if truth is not None:
        simulator.write_jsonl(truth, result.messages, result.inbound)
    statuses = dict(sorted(result.report.by_status.items()))
    click.echo(f"done: {len(result.messages)} messages, responses {statuses}", err=True)


@main.command()
@data_dir_option
@click.option(
    "--with-sink",
    is_flag=True,
    help="Also run the analytics sink in this process (one sink per store).",
)
def worker(settings: Settings, with_sink: bool) -> None:
    """Run a stream worker (Faust): webhooks -> per-message facts and failure-rate windows.

    Several workers with the same SMSRADAR_APP_ID share the partitions between them.
    """
    from smsradar.signals import StopRequested, raise_on_stop_signals

    raise_on_stop_signals()  # until the Faust worker's loop handles them
    try:
        _run_worker(settings, with_sink)
    except StopRequested as stop:
        logging.getLogger(__name__).info(
            "worker stopped before it started", extra={"signal": stop.signal_name}
        )


def _run_worker(settings: Settings, with_sink: bool) -> None:
    from streams.worker import run_worker

    if not with_sink:
        run_worker(settings)
        return
    from analytics.sink import SinkThread

    sink = SinkThread(settings)
    sink.start()
    try:
        run_worker(settings)
    finally:
        sink.stop()


@main.command()
@data_dir_option
def sink(settings: Settings) -> None:
    """Write the fact topics into the analytics store (Parquet segments + DuckDB views).

    One sink per store; it also merges small segments in the background and applies
    SMSRADAR_RETENTION_DAYS. Stops cleanly on Ctrl-C / SIGTERM after a last flush.
    """
    from analytics.sink import StoreLockedError, run_sink

    try:
        run_sink(settings)
    except StoreLockedError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@main.command()
@data_dir_option
@click.option(
    "--state",
    type=click.Choice(["firing", "resolved", "all"]),
    default="all",
    show_default=True,
    help="Which alerts to list.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
def alerts(settings: Settings, state: str, fmt: str) -> None:
    """List failure-rate alerts, newest first (the alerts relation).

    Rules and notification targets: SMSRADAR_ALERT_RULES (a TOML file; README,
    Alerting), SMSRADAR_ALERT_WEBHOOK_URL, SMSRADAR_ALERT_SLACK_URL.
    """
    from analytics.formats import render
    from analytics.queries import alerts as list_alerts
    from analytics.reader import QueryResult, connect

    frame = list_alerts(connect(settings), state)  # type: ignore[arg-type]
    columns = list(frame.columns)
    rows = [
        tuple(None if value != value or value is None else value for value in row)  # NaN/NaT
        for row in frame.astype(object).itertuples(index=False)
    ]
    click.echo(render(QueryResult(columns, rows), fmt), nl=False)


@main.command()
@data_dir_option
@click.option("--host", default=None, help="Interface to listen on [default 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [default 8501; 0 = any free port].")
def dashboard(settings: Settings, host: str | None, port: int | None) -> None:
    """Run the Streamlit dashboard (headless) until Ctrl-C; prints its URL once ready."""
    from dashboards.server import serve

    sys.exit(serve(settings.model_copy(update=_listen_overrides("dashboard", host, port))))


@main.command()
@data_dir_option
@click.argument("query")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
def sql(settings: Settings, query: str, fmt: str) -> None:
    """Run one read-only SQL query over the analytics relations.

    Relations: messages, status_events, inbound_messages, failure_rates, alerts.
    Works while the pipeline writes. Bad SQL, or anything but a SELECT, exits 1 with a
    one-line error. Example:

        smsradar sql "SELECT status, count(*) FROM messages GROUP BY ALL"
    """
    from analytics.formats import render
    from analytics.reader import QueryError, connect, run_query

    try:
        result = run_query(connect(settings), query)
    except QueryError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(render(result, fmt), nl=False)


@main.command()
@data_dir_option
@click.option(
    "--port", type=int, default=None, help="Port [default SMSRADAR_EMBEDDED_BROKER_PORT, 19092]."
)
def broker(settings: Settings, port: int | None) -> None:
    """Run the embedded Kafka-compatible broker (Tansu, memory only) until Ctrl-C.

    It keeps every record (no retention), and its memory and CPU grow with them: for a
    laptop, a demo and the tests (README, Deploying on Apache Kafka).
    """
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


@main.command()
@click.option("--quick", is_flag=True, help="Small loads: finishes in under two minutes.")
@click.option(
    "--only",
    multiple=True,
    help="Run only the named measurement group(s) (repeatable); default all.",
)
def bench(quick: bool, only: tuple[str, ...]) -> None:
    """Run the benchmarks: one JSON object per measurement on stdout, progress on stderr.

    Every figure is printed beside a baseline measured in the same run on the same
    machine (`baseline`, `ratio` = value / baseline), since shared machines are noisy.
    Each group starts its own embedded broker and processes, and stops them after.
    """
    from smsradar.bench.suite import GROUPS, run

    unknown = set(only) - set(GROUPS)
    if unknown:
        raise click.BadParameter(
            f"unknown group(s) {sorted(unknown)}; choose from {list(GROUPS)}", param_hint="--only"
        )
    for measurement in run(quick=quick, only=only or tuple(GROUPS)):
        click.echo(measurement.to_json())
