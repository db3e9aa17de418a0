"""Freshness: seconds from a 202 to the row being visible through ``smsradar sql``.

Receiver, worker and sink run as processes (``smsradar receiver|worker|sink``) against an
embedded broker. ``smsradar.bench.loadgen open`` offers 500 webhooks/s for a duration, each
a pending SMSGateway24 status of a fresh message id, and notes when each 202 arrived. Meanwhile
this process polls the store the way ``smsradar sql`` reads it (``analytics.reader.connect``,
a fresh snapshot per poll) for the run's message ids in ``messages``, noting when each first
appears (the poll's end: when a user would have the row; polls are 0.1 s apart). The delay
is the difference.

Baseline: the sink's flush interval (``SMSRADAR_SINK_FLUSH_INTERVAL_S``), the wait the design
accepts for batching Parquet segments; the ratio says how much the rest of the path adds.
A plain aiokafka consumer on the webhook topic measures the same 202s' broker hop alongside
(``webhook_topic_p50_s``/``p99_s`` in parameters): it is a few milliseconds, too small and
noisy to divide by.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

from analytics.reader import connect
from smsradar.bench import Measurement, progress
from smsradar.bench.processes import (
    BenchProcess,
    bench_settings,
    http_ok,
    percentile,
    process_env,
    smsradar_argv,
)
from smsradar.broker import EmbeddedBroker, free_port
from smsradar.settings import Settings

ROUTE = "/webhooks/smsgateway24/status"
# Pause between polls, so the observer (DuckDB uses every core) leaves the pipeline room.
POLL_PAUSE_S = 0.1


def measure_freshness(rate: float = 500.0, duration_s: float = 30.0) -> list[Measurement]:
    with tempfile.TemporaryDirectory(prefix="smsradar-bench-") as scratch:
        broker = EmbeddedBroker()
        broker.start()
        try:
            return _measure(broker, Path(scratch), rate, duration_s)
        finally:
            broker.stop()


def _visible(settings: Settings, prefix: str) -> set[str]:
    connection = connect(settings)
    try:
        rows = connection.execute(
            "SELECT message_id FROM messages WHERE message_id LIKE ?", [f"{prefix}%"]
        ).fetchall()
    finally:
        connection.close()
    return {str(row[0]) for row in rows}


def _loadgen(out: Path, *args: str, stderr: Any = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    """The load generator (or topic watcher) as a process writing its result to ``out``."""
    return subprocess.Popen(
        [sys.executable, "-m", "smsradar.bench.loadgen", *args, "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _measure(
    broker: EmbeddedBroker, scratch: Path, rate: float, duration_s: float
) -> list[Measurement]:
    settings = bench_settings(broker.bootstrap, scratch / "store")
    port = free_port()
    url = f"http://127.0.0.1:{port}{ROUTE}"
    processes = [
        BenchProcess(
            "receiver",
            smsradar_argv("receiver", "--port", str(port)),
            process_env(settings),
            scratch,
        ),
        BenchProcess(
            "worker", smsradar_argv("worker"), process_env(settings, scratch / "worker"), scratch
        ),
        BenchProcess("sink", smsradar_argv("sink"), process_env(settings), scratch),
    ]
    clients: list[subprocess.Popen[bytes]] = []
    try:
        receiver = processes[0]
        receiver.wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/readyz"), 60, "/readyz")
        progress("freshness: warming up until a webhook is visible through smsradar sql")
        warm = _loadgen(
            scratch / "warm.json",
            "open",
            "--url",
            url,
            "--rate",
            "20",
            "--duration",
            "1",
            "--id-prefix",
            "warm-",
        )
        clients.append(warm)
        warm.wait(60)
        deadline = time.monotonic() + 180
        while not _visible(settings, "warm-"):
            for process in processes:
                if process.process.poll() is not None:
                    raise RuntimeError(f"{process.name} exited in warm-up\n{process.output()}")
            if time.monotonic() > deadline:
                raise TimeoutError("warm-up webhooks not visible after 180s")
            time.sleep(0.2)

        prefix = f"fresh-{uuid.uuid4().hex[:8]}-"
        expect = int(rate * duration_s)
        watcher = _loadgen(
            scratch / "watch.json",
            "watch",
            "--bootstrap",
            settings.bootstrap_servers,
            "--topic",
            settings.webhook_topic("smsgateway24", "status"),
            "--id-prefix",
            prefix,
            "--expect",
            str(expect),
            stderr=subprocess.PIPE,
        )
        clients.append(watcher)
        assert watcher.stderr is not None
        if b"ready" not in watcher.stderr.readline():
            raise RuntimeError("the topic watcher did not start")
        progress(f"freshness: {rate:g} webhooks/s for {duration_s:g}s, polling the store")
        load = _loadgen(
            scratch / "load.json",
            "open",
            "--url",
            url,
            "--rate",
            str(rate),
            "--duration",
            str(duration_s),
            "--id-prefix",
            prefix,
            "--accepted",
        )
        clients.append(load)
        seen: dict[str, float] = {}
        polls: list[float] = []

        def poll() -> None:
            started = time.monotonic()
            visible = _visible(settings, prefix)
            now = time.monotonic()
            polls.append(now - started)
            for message_id in visible:
                seen.setdefault(message_id, now)
            time.sleep(POLL_PAUSE_S)

        while load.poll() is None:
            poll()
        if load.wait() != 0:
            raise RuntimeError(f"the load generator failed with {load.returncode}")
        result = orjson.loads((scratch / "load.json").read_bytes())
        accepted: dict[str, float] = dict(result["accepted"])
        progress(f"freshness: {len(accepted)} accepted, waiting for the last rows")
        deadline = time.monotonic() + 60
        while not accepted.keys() <= seen.keys() and time.monotonic() < deadline:
            poll()
        missing = len(accepted.keys() - seen.keys())
        if missing:
            raise RuntimeError(f"{missing} accepted webhooks not visible 60s after the load")
        watcher.wait(60)
        on_topic: dict[str, float] = orjson.loads((scratch / "watch.json").read_bytes())["seen"]
    finally:
        for client in clients:
            _stop(client)
        for process in processes:
            process.stop()

    delays = [seen[message_id] - at for message_id, at in accepted.items()]
    topic_delays = [on_topic[m] - at for m, at in accepted.items() if m in on_topic]
    parameters = {
        "offered_rps": rate,
        "duration_s": duration_s,
        "accepted": len(accepted),
        "non_202": sum(n for status, n in result["statuses"].items() if status != "202"),
        # rows/s the path delivered: below offered_rps, a backlog grows and so do the delays
        "visible_rps": round(len(accepted) / (max(seen.values()) - min(accepted.values())), 1),
        "polls": len(polls),
        "poll_mean_s": round(sum(polls) / len(polls), 4),
        "poll_pause_s": POLL_PAUSE_S,
        "webhook_topic_p50_s": round(percentile(topic_delays, 0.5), 4) if topic_delays else None,
        "webhook_topic_p99_s": round(percentile(topic_delays, 0.99), 4) if topic_delays else None,
        "processes": "receiver, worker, sink",
        "broker": "embedded",
    }
    flush = settings.sink_flush_interval_s
    return [
        Measurement(
            name=f"freshness_{label}_s",
            value=round(percentile(delays, q), 4),
            unit="s",
            baseline=flush,
            baseline_name="sink flush interval (SMSRADAR_SINK_FLUSH_INTERVAL_S)",
            parameters=parameters,
        )
        for label, q in (("p50", 0.5), ("p99", 0.99))
    ]
