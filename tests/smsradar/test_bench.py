"""`smsradar bench` as a user runs it: JSON lines on stdout, progress on stderr.

Shape only: no figure of speed or memory is asserted on (our machines are shared and noisy).
The alert delay is in simulated time, so a test checks that it is the same in every run.
"""

from __future__ import annotations

import json
import subprocess
from datetime import datetime
from typing import Any

from smsradar.bench.alerts import measure_alerts, simulation_start
from tests.support.processes import smsradar_argv

FIELDS = {"name", "value", "unit", "baseline", "baseline_name", "parameters", "ratio"}


def test_quick_queries_print_one_measurement_per_line() -> None:
    run = subprocess.run(
        smsradar_argv("bench", "--quick", "--only", "queries"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    measurements = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(measurements) >= 10, run.stdout
    for measurement in measurements:
        assert set(measurement) == FIELDS, measurement
        assert measurement["name"].startswith("query_") and measurement["unit"] == "ms"
        assert measurement["value"] > 0 and measurement["baseline"] > 0
        assert measurement["ratio"] == round(measurement["value"] / measurement["baseline"], 4)
        assert measurement["parameters"]["rows"] == 100_000
    assert "queries: generating a synthetic store" in run.stderr


def test_unknown_group_is_refused_with_the_known_ones() -> None:
    run = subprocess.run(
        smsradar_argv("bench", "--only", "nonsense"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode != 0
    assert "pipeline" in run.stderr and "queries" in run.stderr, run.stderr


def test_quick_alerts_report_the_detection_delay_beside_its_bound() -> None:
    run = subprocess.run(
        smsradar_argv("bench", "--quick", "--only", "alerts"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    (measurement,) = [json.loads(line) for line in run.stdout.splitlines()]
    assert set(measurement) == FIELDS
    assert measurement["name"] == "alert_detection_delay_s" and measurement["unit"] == "s"
    assert measurement["baseline"] == 420.0  # the default device rule: 300 s + 120 s
    assert measurement["parameters"]["delays_s"] == [measurement["value"]]


def test_alert_delays_are_the_same_in_every_run() -> None:
    # Each seed's simulation starts at a fixed instant, not at the wall clock's now, which
    # moved the spike on the one-minute windows (and the delay by up to a minute) per run.
    first, second = measure_alerts(seeds=2), measure_alerts(seeds=2)
    assert first[0].parameters["delays_s"] == second[0].parameters["delays_s"]
    starts = [datetime.fromisoformat(s) for s in first[0].parameters["simulation_starts"]]
    assert starts == [simulation_start(1), simulation_start(2)]
    assert len({start.second for start in starts}) == 2, starts


def _quick(group: str) -> tuple[list[dict[str, Any]], str]:
    run = subprocess.run(
        smsradar_argv("bench", "--quick", "--only", group),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    measurements = [json.loads(line) for line in run.stdout.splitlines()]
    for measurement in measurements:
        assert set(measurement) == FIELDS, measurement
        assert measurement["value"] > 0 and measurement["baseline"] > 0, measurement
        assert measurement["ratio"] == round(measurement["value"] / measurement["baseline"], 4)
        assert measurement["baseline_name"], measurement
    return measurements, run.stderr


def test_quick_receiver_reports_throughput_and_latency_beside_a_no_op_endpoint() -> None:
    measurements, stderr = _quick("receiver")
    by_name = {m["name"]: m for m in measurements}
    assert list(by_name) == ["receiver_throughput_rps", "receiver_p50_ms", "receiver_p99_ms"]
    throughput = by_name["receiver_throughput_rps"]
    assert throughput["unit"] == "requests/s"
    parameters = throughput["parameters"]
    assert parameters["receiver_202"] > 0 and parameters["receiver_non_2xx"] == 0
    assert parameters["broker_records"] >= parameters["receiver_202"]
    for name in ("receiver_p50_ms", "receiver_p99_ms"):
        assert by_name[name]["unit"] == "ms"
        assert by_name[name]["parameters"]["offered_rps"] == 1000
        assert set(by_name[name]["parameters"]["receiver_statuses"]) == {"202"}
    assert by_name["receiver_p50_ms"]["value"] <= by_name["receiver_p99_ms"]["value"]
    assert "receiver: throughput of receiver" in stderr


def test_quick_freshness_reports_p50_and_p99_beside_the_sink_flush_interval() -> None:
    measurements, stderr = _quick("freshness")
    assert [m["name"] for m in measurements] == ["freshness_p50_s", "freshness_p99_s"]
    for measurement in measurements:
        assert measurement["unit"] == "s"
        assert measurement["baseline"] == 0.5  # SMSRADAR_SINK_FLUSH_INTERVAL_S's default
        parameters = measurement["parameters"]
        assert parameters["offered_rps"] == 500 and parameters["accepted"] > 0
        assert parameters["non_202"] == 0 and parameters["polls"] > 0
    assert measurements[0]["value"] <= measurements[1]["value"]
    assert "freshness: 500 webhooks/s" in stderr


def test_quick_memory_reports_peak_rss_of_worker_and_sink_beside_idle_rss() -> None:
    measurements, stderr = _quick("memory")
    names = [m["name"] for m in measurements]
    assert names == ["memory_worker_peak_rss_mib", "memory_sink_peak_rss_mib"]
    for measurement in measurements:
        assert measurement["unit"] == "MiB"
        assert measurement["baseline_name"].startswith("idle ")
        assert measurement["parameters"]["messages_in_flight"] == 5_000
        assert measurement["parameters"]["table_store"] == "rocksdb://"
    assert "memory: publishing 5000 pending webhooks" in stderr
