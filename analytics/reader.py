"""Read-only access to the analytics store, for the dashboard and ``smsradar sql``.

A reader is an in-memory DuckDB connection with views over the segments current when it
was opened (store.install_snapshot_views), then locked down: it may read files under the
store only, may not load extensions, and cannot change its own settings back. ``run_query``
also refuses anything but a single SELECT (or EXPLAIN), so no statement can create,
modify, attach, install or copy out.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

import duckdb

from analytics.store import Store, install_snapshot_views
from smsradar.settings import Settings


class QueryError(ValueError):
    """A query that is not allowed or does not run; the message is one line for the user."""


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool = False  # more rows than max_rows: only the first max_rows are here


def connect(settings: Settings) -> duckdb.DuckDBPyConnection:
    """A locked-down connection with every relation of CONTRACT.md as a view."""
    store = Store(settings.data_dir)
    store.ensure()
    connection = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    install_snapshot_views(connection, store)
    connection.execute("SET allowed_directories = [?]", [str(store.root) + "/"])
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")
    return connection


def run_query(
    connection: duckdb.DuckDBPyConnection,
    sql: str,
    parameters: list[Any] | None = None,
    *,
    max_rows: int | None = None,
    timeout_s: float | None = None,
) -> QueryResult:
    """Run one read-only statement; every failure is a QueryError with a one-line reason.

    ``max_rows`` keeps only the first rows (``truncated`` says if there were more), and
    ``timeout_s`` interrupts a query running longer: a console that many people use must
    not let one query fill the memory or hold a core.
    """
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(_one_line(exc)) from None
    if len(statements) != 1:
        raise QueryError(f"expected one SQL statement, got {len(statements)}")
    _check_read_only(statements[0])
    timer = None if timeout_s is None else threading.Timer(timeout_s, connection.interrupt)
    try:
        if timer is not None:
            timer.start()
        cursor = connection.execute(sql, parameters or [])
        columns = [d[0] for d in cursor.description or []]
        if max_rows is None:
            return QueryResult(columns, cursor.fetchall())
        rows = cursor.fetchmany(max_rows + 1)
        return QueryResult(columns, rows[:max_rows], truncated=len(rows) > max_rows)
    except duckdb.InterruptException:
        raise QueryError(f"stopped after {timeout_s:g} s: the query took too long") from None
    except duckdb.Error as exc:
        raise QueryError(_one_line(exc)) from None
    finally:
        if timer is not None:
            timer.cancel()


def _check_read_only(statement: duckdb.Statement) -> None:
    if statement.type is duckdb.StatementType.SELECT:
        return
    if statement.type is duckdb.StatementType.EXPLAIN:
        # EXPLAIN ANALYZE runs what it explains: only a plain EXPLAIN of a SELECT passes.
        explained = re.sub(r"^\s*EXPLAIN\b", "", statement.query, flags=re.IGNORECASE)
        if not re.match(r"\s*(ANALYZE\b|\()", explained, flags=re.IGNORECASE):
            inner = duckdb.extract_statements(explained)
            if len(inner) == 1 and inner[0].type is duckdb.StatementType.SELECT:
                return
        raise QueryError("read-only: only EXPLAIN of a SELECT is allowed (not EXPLAIN ANALYZE)")
    raise QueryError(f"read-only: {statement.type.name} statements are not allowed, only SELECT")


def _one_line(exc: Exception) -> str:
    # DuckDB appends the query with a caret on following lines; the first line says it.
    return str(exc).strip().splitlines()[0]
