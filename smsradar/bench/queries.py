"""Dashboard query latency on a synthetic store, beside the same SQL over the raw file.

A store of ``rows`` synthetic messages (30 days, plus their status events, failure-rate
windows, inbound messages and alerts: analytics.synthetic) is written to a temporary
folder and opened the way the dashboard opens it (analytics.reader.connect). Each query
function of analytics.queries runs once to warm up, then ``runs`` times; the value is
the median wall time in ms, for the dashboard's default range: the last 24 hours of the
data.

Baseline: the very statement and parameters the function ran, with each relation
(``messages``, ``status_events``, …) replaced by ``read_parquet`` of its single base
segment, on a plain DuckDB connection: the same aggregate without the store's views.
So ``ratio`` is the cost of the views (segment selection, latest row per key) and of the
function's own work (building the DataFrame).
"""

from __future__ import annotations

import re
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import duckdb

from analytics import queries, synthetic
from analytics.reader import connect
from analytics.store import literal
from smsradar.bench import Measurement, progress
from smsradar.settings import Settings

DEFAULT_RANGE = timedelta(hours=24)
_RELATION = re.compile(
    r"\b(FROM|JOIN)\s+(messages|status_events|inbound_messages|failure_rates|alerts)\b"
)


@dataclass(frozen=True)
class Case:
    query: str  # the analytics.queries function
    variant: str  # its arguments, in short
    call: Callable[[duckdb.DuckDBPyConnection], object]


class _Recorder:
    """Stands in for a connection: remembers the statement a query function runs."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection
        self.statements: list[tuple[str, Any]] = []

    def execute(self, sql: str, parameters: Any = None) -> duckdb.DuckDBPyConnection:
        self.statements.append((sql, parameters))
        return self.connection.execute(sql, parameters)


def measure_queries(rows: int, runs: int = 7) -> list[Measurement]:
    with tempfile.TemporaryDirectory(prefix="smsradar-bench-queries-") as temp:
        data_dir = Path(temp)
        progress(f"queries: generating a synthetic store of {rows:,} messages")
        started = time.perf_counter()
        store = synthetic.generate(data_dir, rows)
        progress(
            f"queries: generated in {time.perf_counter() - started:.1f} s: "
            + ", ".join(f"{name} {count:,}" for name, count in store.rows.items())
        )
        connection = connect(Settings(data_dir=data_dir))
        raw = duckdb.connect()
        try:
            return [
                _measure(connection, raw, store, case, rows, runs)
                for case in _cases(connection, store)
            ]
        finally:
            raw.close()
            connection.close()


def _cases(connection: duckdb.DuckDBPyConnection, store: synthetic.SyntheticStore) -> list[Case]:
    filters = queries.Filters.last(DEFAULT_RANGE, end=store.end)
    # a message from the middle of the range, as a search result would give it
    middle = filters.start + filters.duration / 2
    found = connection.execute(
        "SELECT provider, message_id, created_at, last_event_at FROM messages"
        " WHERE created_at >= ? AND status = 'delivered' ORDER BY created_at LIMIT 1",
        [middle],
    ).fetchone()
    if found is None:
        raise RuntimeError("the synthetic store has no delivered message in its last day")
    provider, message_id, created_at, last_event_at = found
    return [
        Case("kpis", "24h", lambda c: queries.kpis(c, filters)),
        Case(
            "latency_over_time",
            "bucket_s=3600",
            lambda c: queries.latency_over_time(c, filters, 3600),
        ),
        Case("latency_by", "device_id", lambda c: queries.latency_by(c, filters, "device_id")),
        Case(
            "latency_distribution",
            "bins=30",
            lambda c: queries.latency_distribution(c, filters, 30),
        ),
        Case(
            "failure_rate_over_time",
            "overall, bucket_s=60",
            lambda c: queries.failure_rate_over_time(c, filters),
        ),
        Case(
            "failures_by",
            "error_category",
            lambda c: queries.failures_by(c, filters, "error_category"),
        ),
        Case(
            "top_failing",
            "device_id, limit=10",
            lambda c: queries.top_failing(c, filters, "device_id", 10),
        ),
        Case(
            "message_timeline",
            "with created_at/last_event_at",
            lambda c: queries.message_timeline(c, provider, message_id, created_at, last_event_at),
        ),
        Case(
            "message_timeline",
            "id only",
            lambda c: queries.message_timeline(c, provider, message_id),
        ),
        Case(
            "search_messages",
            "message id, 24h",
            lambda c: queries.search_messages(c, message_id, 50, filters),
        ),
        Case(
            "inbound_over_time",
            "bucket_s=3600",
            lambda c: queries.inbound_over_time(c, filters, 3600),
        ),
        Case("replies", "24h", lambda c: queries.replies(c, filters)),
        Case("alerts", "all", lambda c: queries.alerts(c, "all")),
    ]


def _measure(
    connection: duckdb.DuckDBPyConnection,
    raw: duckdb.DuckDBPyConnection,
    store: synthetic.SyntheticStore,
    case: Case,
    rows: int,
    runs: int,
) -> Measurement:
    recorder = _Recorder(connection)
    case.call(cast(duckdb.DuckDBPyConnection, recorder))  # warm-up, and what it runs
    value = _median_ms(lambda: case.call(connection), runs)
    ((sql, parameters),) = recorder.statements
    direct = _RELATION.sub(lambda m: f"{m[1]} {_source(store, m[2])}", sql)
    raw.execute(direct, parameters).df()  # warm-up
    baseline = _median_ms(lambda: raw.execute(direct, parameters).df(), runs)
    progress(
        f"queries: {rows:,} rows  {case.query}({case.variant}): {value:.1f} ms,"
        f" raw {baseline:.1f} ms"
    )
    return Measurement(
        name=f"query_{case.query}_ms",
        value=round(value, 2),
        unit="ms",
        baseline=round(baseline, 2),
        baseline_name="the same SQL on read_parquet of the base segment, no views",
        parameters={"rows": rows, "query": case.query, "variant": case.variant, "runs": runs},
    )


def _source(store: synthetic.SyntheticStore, relation: str) -> str:
    # Our own paths, never user input.
    return f"read_parquet({literal(str(store.files[relation]))})"


def _median_ms(call: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)
