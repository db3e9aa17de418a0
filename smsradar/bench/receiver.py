"""Receiver: sustained webhooks/s and latency at a fixed offered load, beside a no-op endpoint.

The real receiver (``smsradar receiver``, with a webhook token, against an embedded broker)
and a no-op endpoint in the same stack (``smsradar.bench.noop``: Starlette + uvicorn with the
receiver's server settings) get the same load from the same generator, each in turn:

- throughput: ``wrk`` (Debian's, when installed; else the asyncio generator of
  ``smsradar.bench.loadgen`` in closed-loop mode) keeps 32 connections busy posting a valid
  SMSGateway24 status webhook. Only 2xx answers count, and the receiver's are checked
  against the broker: its webhook topic must have grown by at least as many records as
  there were 202s (each 202 follows the broker's acknowledgement), counted by reading it.
- latency: ``smsradar.bench.loadgen open`` offers 1,000 requests/s (open loop, one fresh
  message id per request); p50/p99 count from each request's due time.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from smsradar.bench import Measurement, progress
from smsradar.bench.loadgen import status_body
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
TOKEN = "bench-token"
WRK_CONNECTIONS = 32

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = [[%s]]
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"non_2xx":%%d,"connect":%%d,"read":%%d,' ..
    '"write":%%d,"timeout":%%d}\\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout))
end
"""


def measure_receiver(throughput_s: float = 15.0, latency_s: float = 20.0) -> list[Measurement]:
    with tempfile.TemporaryDirectory(prefix="smsradar-bench-") as scratch:
        broker = EmbeddedBroker()
        broker.start()
        try:
            return _measure(broker, Path(scratch), throughput_s, latency_s)
        finally:
            broker.stop()


def _measure(
    broker: EmbeddedBroker, scratch: Path, throughput_s: float, latency_s: float
) -> list[Measurement]:
    settings = bench_settings(broker.bootstrap, scratch / "data")
    topic = settings.webhook_topic("smsgateway24", "status")
    receiver_port, noop_port = free_port(), free_port()
    receiver = BenchProcess(
        "receiver",
        smsradar_argv("receiver", "--port", str(receiver_port)),
        process_env(settings, SMSRADAR_WEBHOOK_TOKEN=TOKEN),
        scratch,
    )
    noop = BenchProcess(
        "noop",
        [sys.executable, "-m", "smsradar.bench.noop", "--port", str(noop_port)],
        {},
        scratch,
    )
    try:
        receiver_base = f"http://127.0.0.1:{receiver_port}"
        noop_base = f"http://127.0.0.1:{noop_port}"
        receiver.wait_until(lambda: http_ok(f"{receiver_base}/readyz"), 60, "/readyz")
        noop.wait_until(lambda: http_ok(f"{noop_base}/healthz"), 30, "/healthz")
        urls = {"receiver": f"{receiver_base}{ROUTE}?token={TOKEN}", "noop": f"{noop_base}{ROUTE}"}
        generator = "wrk" if shutil.which("wrk") else "loadgen closed"
        progress(f"receiver: warming up both servers ({generator})")
        for url in urls.values():
            _throughput(url, 1.0, scratch)

        rates: dict[str, dict[str, Any]] = {}
        for name in ("noop", "receiver"):
            progress(f"receiver: throughput of {name} for {throughput_s:g}s ({generator})")
            before = asyncio.run(_topic_size(settings, topic))
            rates[name] = _throughput(urls[name], throughput_s, scratch)
            rates[name]["topic_records"] = asyncio.run(_topic_size(settings, topic)) - before
        accepted = rates["receiver"]["ok"]
        published = rates["receiver"]["topic_records"]
        if published < accepted:
            raise RuntimeError(
                f"receiver answered {accepted} 202s but the broker holds {published}"
            )

        latencies: dict[str, dict[str, Any]] = {}
        for name in ("noop", "receiver"):
            progress(f"receiver: latency of {name} at 1000 requests/s for {latency_s:g}s")
            latencies[name] = _open_loop(scratch, urls[name], 1000.0, latency_s, f"lat-{name}-")
    finally:
        for process in (receiver, noop):
            process.stop()

    throughput_parameters = {
        "generator": generator,
        "connections": WRK_CONNECTIONS,
        "duration_s": throughput_s,
        "receiver_202": accepted,
        "receiver_non_2xx": rates["receiver"]["non_2xx"],
        "receiver_errors": rates["receiver"]["errors"],
        "broker_records": published,
        "baseline_non_2xx": rates["noop"]["non_2xx"],
        "webhook_token": True,
        "broker": "embedded",
    }
    latency_parameters = {
        "offered_rps": 1000,
        "duration_s": latency_s,
        "generator": "smsradar.bench.loadgen open (open loop, latency from due time)",
        "receiver_statuses": latencies["receiver"]["statuses"],
        "receiver_errors": latencies["receiver"]["errors"],
        "receiver_connections": latencies["receiver"]["connections"],
        "receiver_send_lag_p99_ms": _lag_ms(latencies["receiver"]),
        "baseline_statuses": latencies["noop"]["statuses"],
        "baseline_errors": latencies["noop"]["errors"],
        "baseline_connections": latencies["noop"]["connections"],
        "baseline_send_lag_p99_ms": _lag_ms(latencies["noop"]),
        "broker": "embedded",
    }
    baseline_name = "no-op endpoint, Starlette + uvicorn (receiver server settings)"
    return [
        Measurement(
            name="receiver_throughput_rps",
            value=round(rates["receiver"]["rps"], 1),
            unit="requests/s",
            baseline=round(rates["noop"]["rps"], 1),
            baseline_name=baseline_name,
            parameters=throughput_parameters,
        ),
        *(
            Measurement(
                name=f"receiver_{label}_ms",
                value=round(percentile(latencies["receiver"]["latencies_s"], q) * 1000, 3),
                unit="ms",
                baseline=round(percentile(latencies["noop"]["latencies_s"], q) * 1000, 3),
                baseline_name=baseline_name,
                parameters=latency_parameters,
            )
            for label, q in (("p50", 0.5), ("p99", 0.99))
        ),
    ]


def _lag_ms(result: dict[str, Any]) -> float:
    """p99 of how late the generator started sending (large: the generator itself lagged)."""
    return round(percentile(result["send_lags_s"], 0.99) * 1000, 3)


def _throughput(url: str, duration_s: float, scratch: Path) -> dict[str, Any]:
    """2xx answers per second with WRK_CONNECTIONS busy connections."""
    if shutil.which("wrk"):
        script = scratch / "post.lua"
        script.write_text(WRK_SCRIPT % status_body("bench-throughput").decode())
        run = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{WRK_CONNECTIONS}",
                f"-d{max(1, round(duration_s))}s",
                "--timeout",
                "10s",
                "-s",
                str(script),
                url,
            ],
            capture_output=True,
            text=True,
            timeout=duration_s + 60,
            check=True,
        )
        line = next(x for x in run.stdout.splitlines() if x.startswith("WRKJSON "))
        summary = orjson.loads(line.removeprefix("WRKJSON "))
        ok = summary["requests"] - summary["non_2xx"]
        errors = sum(summary[k] for k in ("connect", "read", "write", "timeout"))
        return {
            "rps": ok / (summary["duration_us"] / 1e6),
            "ok": ok,
            "non_2xx": summary["non_2xx"],
            "errors": errors,
        }
    summary = _loadgen(
        scratch, "closed", "--url", url, "--duration", str(duration_s), "--connections", "32"
    )
    ok = sum(n for status, n in summary["statuses"].items() if status.startswith("2"))
    return {
        "rps": ok / summary["elapsed_s"],
        "ok": ok,
        "non_2xx": summary["requests"] - ok,
        "errors": summary["errors"],
    }


def _open_loop(
    scratch: Path, url: str, rate: float, duration_s: float, id_prefix: str
) -> dict[str, Any]:
    return _loadgen(
        scratch,
        "open",
        "--url",
        url,
        "--rate",
        str(rate),
        "--duration",
        str(duration_s),
        "--id-prefix",
        id_prefix,
    )


def _loadgen(scratch: Path, *args: str) -> dict[str, Any]:
    out = scratch / "loadgen.json"
    subprocess.run(
        [sys.executable, "-m", "smsradar.bench.loadgen", *args, "--out", str(out)],
        stdout=subprocess.DEVNULL,
        timeout=600,
        check=True,
    )
    result: dict[str, Any] = orjson.loads(out.read_bytes())
    return result


async def _topic_size(settings: Settings, topic: str) -> int:
    """Records readable on ``topic``, counted by reading it from the beginning.

    Not the sum of end offsets: the embedded broker (Tansu 0.6) answers ListOffsets(latest)
    with less than the log end (15,299 for 15,325 readable records, offsets 0..15,324), so
    end offsets would miss acknowledged records.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        assigned = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        count = 0
        while batch := await consumer.getmany(timeout_ms=1000, max_records=50_000):
            count += sum(len(records) for records in batch.values())
        return count
    finally:
        await consumer.stop()
