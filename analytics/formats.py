"""Query results as text: an aligned table for people, CSV and JSON for programs."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson

from analytics.reader import QueryResult

FORMATS = ("table", "csv", "json")


def render(result: QueryResult, fmt: str) -> str:
    if fmt == "csv":
        return to_csv(result)
    if fmt == "json":
        return to_json(result)
    return to_table(result)


def to_csv(result: QueryResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(result.columns)
    writer.writerows([[_text(v, empty="") for v in row] for row in result.rows])
    return out.getvalue()


def to_json(result: QueryResult) -> str:
    """A JSON array of objects, one per row; times in ISO 8601 with their offset."""
    objects = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
    return orjson.dumps(objects, default=_json_default).decode() + "\n"


def to_table(result: QueryResult) -> str:
    cells = [[_text(v, empty="NULL") for v in row] for row in result.rows]
    widths = [len(c) for c in result.columns]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(result.columns, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
        *(
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in cells
        ),
    ]
    count = len(result.rows)
    lines.append(f"({count} row{'s' if count != 1 else ''})")
    return "\n".join(lines) + "\n"


def _text(value: Any, empty: str) -> str:
    if value is None:
        return empty
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    return str(value)
