"""A reader process for the concurrency test: query every relation in a loop, report JSON.

    python -m tests.support.reader_loop DATA_DIR SECONDS snapshot|catalog

``snapshot`` reads as the dashboard and ``smsradar sql`` do (analytics.reader.connect);
``catalog`` as a user's notebook does: duckdb.connect(analytics.duckdb, read_only=True).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import duckdb
import orjson

from analytics.reader import connect
from analytics.relations import RELATIONS
from analytics.store import Store
from smsradar.settings import Settings

# Relations whose row count can only grow while traffic flows.
GROWING = ("messages", "status_events", "inbound_messages")


def main(data_dir: Path, seconds: float, mode: str) -> dict[str, object]:
    settings = Settings(data_dir=data_dir)
    last: dict[str, int] = {}
    report: dict[str, object] = {"mode": mode, "queries": 0, "errors": [], "decreases": []}
    duplicates: list[str] = []
    deadline = time.monotonic() + seconds
    catalog = Store(data_dir).catalog_path
    while time.monotonic() < deadline:
        try:
            if mode == "catalog":
                connection = duckdb.connect(str(catalog), read_only=True)
            else:
                connection = connect(settings)
            for relation in RELATIONS.values():
                key = ", ".join(relation.key)
                if relation.name == "failure_rates":
                    key = "window_start, dimension, dimension_value"
                rows, keys = connection.execute(
                    f"SELECT count(*), count(DISTINCT ({key})) FROM {relation.name}"
                ).fetchone() or (0, 0)
                report["queries"] = int(report["queries"]) + 1  # type: ignore[call-overload]
                if rows != keys:
                    duplicates.append(f"{relation.name}: {rows} rows, {keys} keys")
                if relation.name in GROWING:
                    if rows < last.get(relation.name, 0):
                        report["decreases"].append(  # type: ignore[attr-defined]
                            f"{relation.name}: {last[relation.name]} -> {rows}"
                        )
                    last[relation.name] = rows
            connection.close()
        except Exception as exc:  # every error is the finding: report it, go on
            report["errors"].append(f"{type(exc).__name__}: {exc}"[:300])  # type: ignore[attr-defined]
    report["duplicates"] = duplicates
    report["last_counts"] = last
    return report


if __name__ == "__main__":
    result = main(Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3])
    sys.stdout.buffer.write(orjson.dumps(result) + b"\n")
