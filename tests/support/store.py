"""Read the analytics store the way users do, and compare it with a simulation's truth."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections import Counter
from contextlib import closing
from typing import Any

from analytics.formats import to_json
from analytics.reader import connect, run_query
from smsradar.settings import Settings
from smsradar.simulator import InboundTruth, MessageTruth
from tests.support.facts import (
    Facts,
    WindowKey,
    _iso,
    actual_messages,
    expected_messages,
    expected_windows,
)
from tests.support.processes import smsradar_argv


def sql(settings: Settings, statement: str) -> list[dict[str, Any]]:
    """``smsradar sql --format json`` in a subprocess, exactly as a user runs it."""
    completed = subprocess.run(
        [*smsradar_argv("sql", "--format", "json", statement)],
        env=_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    rows: list[dict[str, Any]] = json.loads(completed.stdout)
    return rows


def query(settings: Settings, statement: str) -> list[dict[str, Any]]:
    """The rows ``sql`` gives, through the same reader in this process: polling loops call
    it often, and an interpreter start per query cost more than the query."""
    with closing(connect(settings)) as connection:
        rows: list[dict[str, Any]] = json.loads(to_json(run_query(connection, statement)))
    return rows


def _env(settings: Settings) -> dict[str, str]:

    return {
        **os.environ,
        "SMSRADAR_DATA_DIR": str(settings.data_dir),
        "SMSRADAR_LOG_LEVEL": "WARNING",
    }


def store_as_facts(settings: Settings) -> Facts:
    """The store's relations in the shape of the fact-topic reader, to reuse its comparisons."""
    facts = Facts()
    for row in query(settings, "SELECT * FROM messages"):
        facts.messages[f"{row['provider']}:{row['message_id']}"] = row
    for row in query(settings, "SELECT * FROM status_events"):
        facts.status_events[row["event_id"]] = row
    for row in query(settings, "SELECT * FROM inbound_messages"):
        facts.inbound[f"{row['provider']}:{row['message_id']}"] = row
    for row in query(settings, "SELECT * FROM failure_rates"):
        key = f"{row['window_start']}|{row['dimension']}|{row['dimension_value']}"
        facts.window_rows[key] = row
    return facts


def store_windows(settings: Settings) -> dict[WindowKey, tuple[int, int, int]]:
    return {
        (_iso(r["window_start"]), r["dimension"], r["dimension_value"]): (
            r["delivered"],
            r["failed"],
            r["unknown"],
        )
        for r in query(settings, "SELECT * FROM failure_rates")
    }


def wait_for_store(
    settings: Settings, messages: list[MessageTruth], timeout_s: float = 120.0
) -> None:
    """Poll until the store's messages and windows equal the truth, or the timeout passes."""
    want_messages = expected_messages(messages)
    want_windows = expected_windows(messages, settings.failure_window_s)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        facts = store_as_facts(settings)
        if actual_messages(facts) == want_messages and store_windows(settings) == want_windows:
            return
        time.sleep(1.0)


def status_counts(truth: list[MessageTruth]) -> Counter[str]:
    return Counter(m.status.value for m in truth)


def quantile_cont(values: list[float], q: float) -> float:
    """DuckDB's quantile_cont: linear interpolation between the closest ranks."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def inbound_count(truth: list[InboundTruth]) -> int:
    return len(truth)
