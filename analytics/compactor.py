"""Merging small segments, applying retention, deleting what was replaced.

Every step writes a new segment whose name says what it replaces, then renames it into
place; nothing is modified in place. A crash at any point leaves either the old segments or
the new one as the current set (``sql/segments.sql``), both holding the same latest rows:
nothing lost, nothing doubled. Replaced segments are deleted only once no reader can still
be using them.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from analytics.relations import RELATIONS, Relation
from analytics.store import (
    DELETE_GRACE_S,
    READER_GATE_MS,
    SCHEMA_FILE,
    Segment,
    SegmentName,
    Store,
    current_segments,
    install_macros,
    literal,
    write_atomically,
)

log = logging.getLogger("smsradar.analytics")

ROWS_PER_BATCH = 100_000  # rows held in memory at once while a segment is written


@dataclass(frozen=True)
class CompactionPolicy:
    merge_at_segments: int = 8  # merge a partition's tails once there are this many
    # A merge output this big is merged no more; the next rebase takes it. Otherwise every
    # merge re-reads the previous one, and its input (so the sink's memory, and its work)
    # grows with each merge until a rebase, which a quiet store may not reach for days.
    merge_max_rows: int = 10_000
    # Replaced segments are deleted in sweeps this far apart. A query through the catalog's
    # live views lists every file of a relation when it starts and may open any of them, so
    # a deletion during such a query fails it: sweeps are kept rare.
    sweep_interval_s: float = 600.0
    # Rewrite the base once the tails hold this share of its rows (and at least min rows):
    # the base is the big file, so it is rewritten rarely.
    rebase_share: float = 0.125
    rebase_min_rows: int = 100_000
    retention: timedelta | None = timedelta(days=30)
    # A rewrite sorts and de-duplicates a whole partition: with DuckDB's default limit (80 %
    # of RAM) the sink's memory would grow with the store; past this it spills to disk.
    memory_mib: int = 256
    # DuckDB 2.0.1 keeps native memory per query in its database instance (about 18 KiB a
    # merge, never returned while the instance lives; no setting turns it off): the
    # compactor opens a fresh one after this many segments written, which bounds the sink.
    segments_per_connection: int = 200


class Compactor:
    def __init__(self, store: Store, policy: CompactionPolicy) -> None:
        self.store = store
        self.policy = policy
        self.swept_at = -float("inf")
        self.connection = self._connect()
        self.segments_on_connection = 0

    def _connect(self) -> duckdb.DuckDBPyConnection:
        connection = duckdb.connect(
            config={
                "memory_limit": f"{self.policy.memory_mib}MiB",
                "temp_directory": str(self.store.root / ".compactor-spill"),
                # DuckDB keeps up to 128 MiB freed by a finished rewrite for the next one;
                # between rewrites seconds apart that is only RSS the sink never gives back.
                "allocator_flush_threshold": "8MiB",
                # The external file cache keeps an entry for every file it ever read (about
                # 1 KiB of RSS each, never evicted, even for deleted files): segments have
                # unique names, so the sink grew with every merge. It caches remote files;
                # ours are local.
                "enable_external_file_cache": False,
            }
        )
        install_macros(connection)
        return connection

    def run_once(self) -> int:
        """One pass over every relation and partition; returns the segments written."""
        written = 0
        for relation in RELATIONS.values():
            segments = current_segments(self.connection, self.store, relation, gate_ms=0)
            for partition in sorted({s.partition for s in segments}):
                written += self._compact(
                    relation, [s for s in segments if s.partition == partition]
                )
        if time.monotonic() - self.swept_at >= self.policy.sweep_interval_s:
            for relation in RELATIONS.values():
                self._delete_replaced(relation)
            self.swept_at = time.monotonic()
        self.segments_on_connection += written
        if self.segments_on_connection >= self.policy.segments_per_connection:
            self.connection.close()
            self.connection = self._connect()
            self.segments_on_connection = 0
        return written

    def _compact(self, relation: Relation, segments: list[Segment]) -> int:
        tails = [s for s in segments if s.kind != "base"]  # in offset order
        base = next((s for s in segments if s.kind == "base"), None)
        tail_rows = [_rows(s) for s in tails]
        base_rows = _rows(base) if base else 0
        if tails and sum(tail_rows) >= max(
            self.policy.rebase_min_rows, base_rows * self.policy.rebase_share
        ):
            self.rebase(relation, base, tails)
            return 1
        full = [i for i, rows in enumerate(tail_rows) if rows >= self.policy.merge_max_rows]
        mergeable = tails[full[-1] + 1 :] if full else tails
        if len(mergeable) >= self.policy.merge_at_segments:
            self.merge(relation, mergeable)
            return 1
        return 0

    def merge(self, relation: Relation, tails: list[Segment]) -> SegmentName:
        """Adjacent tails -> one merge segment with the latest row per key."""
        name = SegmentName.new(tails[0].partition, "merge", tails[0].first, tails[-1].last)
        key = ", ".join(relation.key)
        query = f"""
            SELECT * FROM {self._read(relation, [s.path for s in tails])}
            QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY _offset DESC) = 1
            ORDER BY {relation.time_column}
        """
        self._copy(relation, name, query)
        log.info("merged segments", extra={"relation": relation.name, "segments": len(tails)})
        return name

    def rebase(self, relation: Relation, base: Segment | None, tails: list[Segment]) -> SegmentName:
        """Base + tails -> a new base (latest row per key), dropping rows past retention."""
        first = base.first if base else tails[0].first
        name = SegmentName.new(tails[0].partition, "base", first, tails[-1].last)
        key = ", ".join(relation.key)
        cutoff = (
            datetime.now(UTC) - self.policy.retention
            if relation.retained and self.policy.retention
            else datetime(1, 1, 1, tzinfo=UTC)
        )
        base_files = [base.path] if base else []
        query = f"""
            WITH tail AS (
                SELECT * FROM {self._read(relation, [s.path for s in tails])}
                QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY _offset DESC) = 1
            )
            SELECT * FROM (
                SELECT * FROM {self._read(relation, base_files)} ANTI JOIN tail USING ({key})
                UNION ALL BY NAME
                SELECT * FROM tail
            )
            WHERE {relation.time_column} >= TIMESTAMPTZ '{cutoff.isoformat()}'
            ORDER BY {relation.time_column}
        """
        self._copy(relation, name, query)
        log.info("rewrote base", extra={"relation": relation.name, "segments": len(tails) + 1})
        return name

    def _read(self, relation: Relation, paths: list[str]) -> str:
        """The segments' rows in the relation's current columns: a segment written before a
        column was added reads it as NULL, and the output has every column."""
        schema_file = str(self.store.directory(relation) / SCHEMA_FILE)
        return f"read_parquet({_list([schema_file, *paths])}, union_by_name = true)"

    def _copy(self, relation: Relation, name: SegmentName, query: str) -> None:
        """Stream the query's rows into the new segment, a batch at a time (DuckDB spills
        to disk, not memory).

        Through Arrow rather than DuckDB's ``COPY ... TO``: in DuckDB 2.0.1 every COPY
        leaks native memory (about 1 KiB for a merge of nine small files, more for wider
        ones), and the compactor writes thousands of segments an hour.
        """

        def write(temp: Path) -> None:
            rows = self.connection.sql(query).to_arrow_reader(ROWS_PER_BATCH)
            with pq.ParquetWriter(temp, rows.schema, compression="zstd") as segment:
                for batch in rows:
                    segment.write_batch(batch)

        write_atomically(self.store.directory(relation) / name.filename, write)

    def _delete_replaced(self, relation: Relation) -> None:
        """Delete segments whose rows a compactor output has held long enough.

        A live reader switches to an output READER_GATE_MS after it was written and a
        snapshot reader lives at most DELETE_GRACE_S, so once an output covering a segment
        is older than both, no reader can still use the segment.
        """
        now_ms = time.time() * 1000
        window_ms = READER_GATE_MS + DELETE_GRACE_S * 1000
        segments = self.store.segments(relation)
        settled = [
            n for n, _ in segments if n.kind != "tail" and now_ms - n.created_ms >= window_ms
        ]
        for name, path in segments:
            if any(_covers(output, name) for output in settled):
                path.unlink(missing_ok=True)
                log.debug("deleted replaced segment", extra={"segment": path.name})


def _covers(output: SegmentName, segment: SegmentName) -> bool:
    """Does ``output`` hold every row of ``segment`` (same partition, wider offset range)?"""
    if output == segment or output.partition != segment.partition:
        return False
    if (output.first, output.last) == (segment.first, segment.last):
        # A compactor output of exactly a tail's range replaced it (a base of one tail);
        # of two outputs of the same range (a re-run) the later counts, as in segments.sql.
        return segment.kind == "tail" or output.created_ms > segment.created_ms
    return output.first <= segment.first and output.last >= segment.last


def _list(paths: list[str]) -> str:
    # Paths are our own segment names, never user input.
    return "[" + ", ".join(literal(path) for path in paths) + "]"


def _rows(segment: Segment | None) -> int:
    return pq.read_metadata(segment.path).num_rows if segment else 0


class CompactorThread(threading.Thread):
    """Runs passes every ``interval_s`` until stopped; a failed pass is logged and retried."""

    def __init__(self, compactor: Compactor, interval_s: float) -> None:
        super().__init__(name="compactor", daemon=True)
        self.compactor = compactor
        self.interval_s = interval_s
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.interval_s):
            try:
                self.compactor.run_once()
            except Exception:
                log.exception("compaction pass failed; retrying next interval")

    def stop(self) -> None:
        self.stopping.set()
        self.join()
