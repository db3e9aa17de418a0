"""The analytics store on disk: immutable Parquet segments and a catalog of views over them.

    <data_dir>/analytics/
        analytics.duckdb                     views only; any number of read-only openers
        segments/<relation>/0-schema.parquet  no rows: the relation's schema (listed first)
        segments/<relation>/p<partition>-<kind>-<first>-<last>-<created ms>.parquet

DuckDB allows one writing process per database file, and then no other process may open it.
So nothing here is ever written in place: segments are written under a temporary name and
renamed, and the catalog only holds views, whose SQL (``sql/segments.sql``) picks the
current segments by their names at query time and keeps the latest row per key.

Segments are read by column name (``union_by_name``), the schema file first: a column added
to a relation later reads as NULL in the segments written before it, so a store keeps
working across an upgrade without rewriting a file.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from analytics.relations import POSITION_COLUMNS, RELATIONS, Relation

# How long a compactor output waits before it replaces what it merged, for readers. A
# query lists the files when it binds and picks the current ones a moment later; an output
# younger than that moment must not yet hide the segments it replaces.
READER_GATE_MS = 10_000
# Replaced segments are deleted this long after their replacement became visible: longer
# than any query that may still read them.
DELETE_GRACE_S = 120.0
SCHEMA_FILE = "0-schema.parquet"
TEMP_SUFFIX = ".tmp"


@dataclass(frozen=True, order=True)
class SegmentName:
    partition: int
    kind: str  # "tail", "merge" or "base"
    first: int
    last: int
    created_ms: int

    @property
    def filename(self) -> str:
        return (
            f"p{self.partition:04d}-{self.kind}-{self.first:020d}-{self.last:020d}-"
            f"{self.created_ms:013d}.parquet"
        )

    @classmethod
    def parse(cls, filename: str) -> SegmentName | None:
        parts = filename.removesuffix(".parquet").split("-")
        if len(parts) != 5 or not parts[0].startswith("p") or filename == SCHEMA_FILE:
            return None
        partition, kind, first, last, created = parts
        return cls(int(partition[1:]), kind, int(first), int(last), int(created))

    @classmethod
    def new(cls, partition: int, kind: str, first: int, last: int) -> SegmentName:
        return cls(partition, kind, first, last, int(time.time() * 1000))


class Store:
    def __init__(self, data_dir: Path) -> None:
        self.root = (data_dir / "analytics").resolve()
        self.catalog_path = self.root / "analytics.duckdb"

    def directory(self, relation: Relation) -> Path:
        return self.root / "segments" / relation.segment_name

    def pattern(self, relation: Relation) -> str:
        return str(self.directory(relation) / "*.parquet")

    def segments(self, relation: Relation) -> list[tuple[SegmentName, Path]]:
        found = []
        for path in self.directory(relation).glob("p*.parquet"):
            name = SegmentName.parse(path.name)
            if name is not None:
                found.append((name, path))
        return sorted(found)

    # -- writing -------------------------------------------------------------------------

    def write_segment(self, relation: Relation, name: SegmentName, table: pa.Table) -> Path:
        """Write durably under a temporary name, then rename: never seen half-written."""
        final = self.directory(relation) / name.filename
        write_atomically(final, lambda temp: pq.write_table(table, temp, compression="zstd"))
        return final

    def ensure(self) -> None:
        """Create the layout and catalog if missing; safe to race from several processes."""
        for relation in RELATIONS.values():
            directory = self.directory(relation)
            directory.mkdir(parents=True, exist_ok=True)
            schema_file = directory / SCHEMA_FILE
            if not schema_file.exists() or pq.read_schema(schema_file) != relation.schema:
                try:
                    write_atomically(schema_file, _empty_table_writer(relation))
                except FileNotFoundError:
                    # A sink starting meanwhile removed our temporary file as a crash's
                    # leftover (remove_temporaries); it writes the schema file itself.
                    write_atomically(schema_file, _empty_table_writer(relation))
        if not self.catalog_path.exists():
            self.write_catalog()

    def write_catalog(self) -> None:
        """(Re)create the catalog of views: built aside, then renamed over the old one."""
        temp = self.catalog_path.with_name(f".{uuid.uuid4().hex}{TEMP_SUFFIX}")
        try:
            with duckdb.connect(str(temp)) as connection:
                install_live_views(connection, self)
            os.replace(temp, self.catalog_path)
        finally:
            temp.unlink(missing_ok=True)

    def remove_temporaries(self) -> None:
        """Drop what a crashed writer left half-done (only the single writer calls this)."""
        for leftover in (self.root / "segments").glob(f"*/.*{TEMP_SUFFIX}"):
            leftover.unlink(missing_ok=True)


def write_atomically(final: Path, write: Callable[[Path], object]) -> None:
    temp = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}{TEMP_SUFFIX}")
    try:
        write(temp)
        with open(temp, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temp, final)
    finally:
        temp.unlink(missing_ok=True)
    directory = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _empty_table_writer(relation: Relation) -> Callable[[Path], None]:
    def write(temp: Path) -> None:
        pq.write_table(relation.schema.empty_table(), temp)

    return write


@dataclass(frozen=True)
class Segment:
    path: str
    kind: str
    partition: int
    first: int
    last: int


def install_macros(connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute(_sql("segments.sql"))


def current_segments(
    connection: duckdb.DuckDBPyConnection, store: Store, relation: Relation, gate_ms: int
) -> list[Segment]:
    """The segments that make up ``relation`` now (``install_macros`` must have run)."""
    rows = connection.execute(
        "SELECT file, kind, part, first, last FROM segment_files(?, ?) ORDER BY part, first",
        [store.pattern(relation), gate_ms],
    ).fetchall()
    return [Segment(*row) for row in rows]


def install_live_views(connection: duckdb.DuckDBPyConnection, store: Store) -> None:
    """Views that find the current segments at every query: for the catalog file.

    Always current, whatever the age of the connection; the file check costs about a
    second per 10 million rows, which ``snapshot_views`` avoids.
    """
    install_macros(connection)
    for relation in RELATIONS.values():
        pattern = literal(store.pattern(relation))

        def live(kinds: str, pattern: str = pattern) -> str:
            # The current files as one list value, not `filename IN (SELECT ...)`: DuckDB
            # 2.0 pushes that semi-join's filter into a union_by_name scan wrongly (a view
            # whose query has a window function then read no rows at all).
            files = f"SELECT list(file) FROM segment_files({pattern}, {READER_GATE_MS})"
            return (
                f"(SELECT * EXCLUDE (filename) FROM "
                f"read_parquet({pattern}, filename = true, union_by_name = true) "
                f"WHERE list_contains(({files} WHERE kind {kinds}), filename))"
            )

        connection.execute(_relation_view(relation, live("<> 'base'"), live("= 'base'")))
    connection.execute(_sql("views.sql"))


def install_snapshot_views(connection: duckdb.DuckDBPyConnection, store: Store) -> None:
    """Views over the segments current now, named explicitly: the fastest to query.

    Segments stay on disk for DELETE_GRACE_S after they are replaced, so a snapshot must be
    re-taken (a new connection) at least that often; the dashboard takes one per refresh.
    """
    install_macros(connection)
    for relation in RELATIONS.values():
        segments = current_segments(connection, store, relation, gate_ms=0)
        schema_file = str(store.directory(relation) / SCHEMA_FILE)

        def files(paths: list[str], schema_file: str = schema_file) -> str:
            # The schema file (no rows) keeps the list from being empty.
            listed = ", ".join(literal(path) for path in [schema_file, *paths])
            return f"read_parquet([{listed}], union_by_name = true)"

        tails = files([s.path for s in segments if s.kind != "base"])
        bases = files([s.path for s in segments if s.kind == "base"])
        tail_start = _earliest(connection, tails, relation.time_column)
        connection.execute(_relation_view(relation, tails, bases, tail_start))
    connection.execute(_sql("views.sql"))


def _earliest(connection: duckdb.DuckDBPyConnection, source: str, column: str) -> str:
    """The earliest ``column`` value in ``source`` as a SQL constant of the column's type
    (``NULL`` when it has no rows)."""
    text, type_name = connection.execute(
        f"SELECT min({column})::VARCHAR, typeof(min({column})) FROM {source}"
    ).fetchall()[0]
    return "NULL" if text is None else f"CAST({literal(text)} AS {type_name})"


def _relation_view(
    relation: Relation, tail_source: str, base_source: str, tail_start: str | None = None
) -> str:
    """The latest row per key: the tails' newest row, else the base's.

    A key's ``time_column`` never increases with later facts (a message's ``created_at`` is
    its earliest event), so base rows older than every tail row cannot be replaced, and
    only the recent part of the base (few row groups: it is sorted by time) is anti-joined.
    ``tail_start``, the tails' earliest time as a constant when the caller knows it (a
    snapshot), lets the scan skip the base's row groups; the subquery that stands in for
    it otherwise is evaluated per base row (a third of a query's time at 10 million rows).
    Identifiers and paths come from our own constants, never from user input.
    """
    key = ", ".join(relation.key)
    hidden = ", ".join(POSITION_COLUMNS)
    time = relation.time_column
    earliest = tail_start or "(SELECT earliest FROM tail_start)"
    return f"""
CREATE OR REPLACE VIEW {relation.segment_name} AS
WITH tail AS (
    SELECT * FROM {tail_source}
    QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY _offset DESC) = 1
),
tail_start AS (SELECT min({time}) AS earliest FROM tail),
base AS (SELECT * FROM {base_source})
SELECT * EXCLUDE ({hidden}) FROM base
WHERE {time} < {earliest} OR {earliest} IS NULL
UNION ALL
SELECT * EXCLUDE ({hidden})
FROM (SELECT * FROM base WHERE {time} >= {earliest}) AS recent
ANTI JOIN tail USING ({key})
UNION ALL
SELECT * EXCLUDE ({hidden}) FROM tail
"""


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sql(name: str) -> str:
    return resources.files("analytics").joinpath(f"sql/{name}").read_text()
