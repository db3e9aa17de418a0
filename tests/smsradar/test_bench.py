"""`smsradar bench` as a user runs it: JSON lines on stdout, progress on stderr.

Shape only: benchmark figures are never asserted on (our machines are shared and noisy).
"""

from __future__ import annotations

import json
import subprocess

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
