"""The compactor: merges and rebases keep every relation's latest rows; crashes, deletion and
retention are safe.

Fast unit-level tests: no Kafka. Tails are written by hand into a real store under pytest's
tmp_path, compacted with ``Compactor.run_once``, and read back the ways users read them:
``analytics.reader.connect`` (snapshot views) and the catalog file opened read-only (live
views). Ages are faked through the ``created_ms`` in segment names, never by sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics.compactor import CompactionPolicy, Compactor
from analytics.reader import connect, run_query
from analytics.relations import POSITION_COLUMNS, RELATIONS
from analytics.store import (
    DELETE_GRACE_S,
    READER_GATE_MS,
    Segment,
    SegmentName,
    Store,
    current_segments,
    install_macros,
)
from smsradar.settings import Settings

NOW = datetime.now(UTC)
HOUR_MS = 3_600_000
# An output older than this may have its inputs deleted; younger, a reader may use them.
SETTLED_MS = READER_GATE_MS + int(DELETE_GRACE_S * 1000)
STATUSES = ("queued", "sent", "delivered", "failed", "read")
KEYS_PER_PARTITION = 6

# sweep_interval_s=0: every pass also deletes what it may
MERGE_ONLY = CompactionPolicy(
    merge_at_segments=4, rebase_min_rows=10**9, retention=None, sweep_interval_s=0
)
REBASE = CompactionPolicy(
    merge_at_segments=4, rebase_min_rows=1, retention=None, sweep_interval_s=0
)
IDLE = CompactionPolicy(
    merge_at_segments=10**6, rebase_min_rows=10**9, retention=None, sweep_interval_s=0
)

Key = tuple[Any, ...]
Row = dict[str, Any]


def now_ms() -> int:
    return int(time.time() * 1000)


# -- facts -----------------------------------------------------------------------------


def fact(relation: str, **fields: Any) -> Row:
    row: Row = dict.fromkeys(RELATIONS[relation].schema.names)
    row.update(fields)
    return row


def message(partition: int, offset: int) -> Row:
    """Later offsets revisit the partition's few keys with a new status and event count."""
    j = (offset * 5 + partition) % KEYS_PER_PARTITION
    created = NOW - timedelta(hours=1, minutes=j + 10 * partition)  # fixed per key
    status = STATUSES[offset % len(STATUSES)]
    return fact(
        "messages",
        provider="smstools",
        message_id=f"p{partition}-m{j}",
        status=status,
        provider_status=status.upper(),
        is_terminal=status in ("delivered", "failed", "read"),
        created_at=created,
        queue_latency_s=offset / 8,
        events=offset + 1,
        last_event_at=created + timedelta(seconds=offset),
    )


def status_event(partition: int, offset: int) -> Row:
    """A new event per offset, except every fourth offset: a replay of an earlier event."""
    n = offset - 3 if offset % 4 == 3 else offset
    at = NOW - timedelta(hours=2) + timedelta(seconds=n)
    return fact(
        "status_events",
        event_id=f"p{partition}-e{n}",
        provider="smstools",
        message_id=f"p{partition}-m{n % KEYS_PER_PARTITION}",
        direction="outbound",
        status=STATUSES[n % len(STATUSES)],
        provider_status="X",
        provider_status_known=True,
        event_time=at,
        received_at=at + timedelta(seconds=1),
    )


MAKERS: dict[str, Callable[[int, int], Row]] = {
    "messages": message,
    "status_events": status_event,
}


def write(
    store: Store,
    relation: str,
    kind: str,
    rows: list[Row],
    *,
    partition: int = 0,
    first: int | None = None,
    last: int | None = None,
    created_ms: int | None = None,
) -> Path:
    offsets = [row["_offset"] for row in rows]
    name = SegmentName(
        partition,
        kind,
        min(offsets) if first is None else first,
        max(offsets) if last is None else last,
        now_ms() - HOUR_MS if created_ms is None else created_ms,
    )
    table = pa.Table.from_pylist(rows, schema=RELATIONS[relation].schema)
    return store.write_segment(RELATIONS[relation], name, table)


@dataclass
class History:
    """Every record written as a tail, so the latest row per key is known."""

    store: Store
    records: dict[str, list[Row]] = field(default_factory=dict)
    next_offset: dict[tuple[str, int], int] = field(default_factory=dict)

    def tail(self, relation: str, partition: int = 0, count: int = 5) -> Path:
        first = self.next_offset.get((relation, partition), 0)
        rows = [
            {**MAKERS[relation](partition, offset), "_partition": partition, "_offset": offset}
            for offset in range(first, first + count)
        ]
        self.next_offset[(relation, partition)] = first + count
        self.records.setdefault(relation, []).extend(rows)
        return write(self.store, relation, "tail", rows, partition=partition)

    def latest_records(self, relation: str, partition: int | None = None) -> list[Row]:
        key = RELATIONS[relation].key
        latest: dict[Key, Row] = {}
        for row in sorted(self.records.get(relation, []), key=lambda r: r["_offset"]):
            if partition is None or row["_partition"] == partition:
                latest[tuple(row[k] for k in key)] = row
        return list(latest.values())

    def expected(self, relation: str) -> dict[Key, Row]:
        key = RELATIONS[relation].key
        return {
            tuple(row[k] for k in key): {k: v for k, v in row.items() if k not in POSITION_COLUMNS}
            for row in self.latest_records(relation)
        }


# -- reading -----------------------------------------------------------------------------


def keyed(relation: str, columns: list[str], rows: list[tuple[Any, ...]]) -> dict[Key, Row]:
    dicts = [dict(zip(columns, row, strict=True)) for row in rows]
    result = {tuple(d[k] for k in RELATIONS[relation].key): d for d in dicts}
    assert len(result) == len(dicts), f"{relation}: duplicate keys"
    return result


def snapshot(store: Store, relation: str) -> dict[Key, Row]:
    """The relation as analytics.reader sees it (snapshot views, gate 0)."""
    connection = connect(Settings(data_dir=store.root.parent))
    try:
        result = run_query(connection, f"SELECT * FROM {RELATIONS[relation].segment_name}")
    finally:
        connection.close()
    return keyed(relation, result.columns, result.rows)


def live(store: Store, relation: str) -> dict[Key, Row]:
    """The relation as the catalog opened read-only sees it (live views, reader gate)."""
    with duckdb.connect(str(store.catalog_path), read_only=True) as connection:
        cursor = connection.execute(f"SELECT * FROM {RELATIONS[relation].segment_name}")
        columns = [d[0] for d in cursor.description]
        return keyed(relation, columns, cursor.fetchall())


def current(store: Store, relation: str) -> list[Segment]:
    with duckdb.connect() as connection:
        install_macros(connection)
        return current_segments(connection, store, RELATIONS[relation], gate_ms=0)


def kinds(store: Store, relation: str) -> list[str]:
    return sorted(segment.kind for segment in current(store, relation))


def on_disk(store: Store, relation: str) -> set[str]:
    return {path.name for _, path in store.segments(RELATIONS[relation])}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "data")
    store.ensure()
    return store


# -- merge, then rebase ------------------------------------------------------------------

COMPACTED = ("messages", "status_events")


def _assert_unchanged(history: History, want_kinds: list[str]) -> None:
    for relation in COMPACTED:
        expected = history.expected(relation)
        assert snapshot(history.store, relation) == expected, relation
        assert live(history.store, relation) == expected, relation
        assert kinds(history.store, relation) == want_kinds, relation


def test_merges_then_rebases_keep_the_latest_row_of_every_key(store: Store) -> None:
    history = History(store)
    for partition in (0, 1):
        for _ in range(6):
            for relation in COMPACTED:
                history.tail(relation, partition)
    assert len(history.expected("messages")) == 2 * KEYS_PER_PARTITION  # keys overlap
    _assert_unchanged(history, ["tail"] * 12)

    merging = Compactor(store, MERGE_ONLY)
    assert merging.run_once() == 4  # one merge per relation and partition
    _assert_unchanged(history, ["merge"] * 2)
    assert merging.run_once() == 0  # one merge per partition: below merge_at_segments
    _assert_unchanged(history, ["merge"] * 2)

    for partition in (0, 1):
        for _ in range(3):
            for relation in COMPACTED:
                history.tail(relation, partition)
    _assert_unchanged(history, ["merge"] * 2 + ["tail"] * 6)
    assert merging.run_once() == 4  # the merge and three tails: four segments again
    _assert_unchanged(history, ["merge"] * 2)
    for relation in COMPACTED:
        for segment in current(store, relation):
            last = history.next_offset[(relation, segment.partition)] - 1
            assert (segment.first, segment.last) == (0, last)

    rebasing = Compactor(store, REBASE)
    assert rebasing.run_once() == 4
    _assert_unchanged(history, ["base"] * 2)

    for partition in (0, 1):
        for relation in COMPACTED:
            history.tail(relation, partition)
    _assert_unchanged(history, ["base"] * 2 + ["tail"] * 2)
    # Too few tail rows for the base's size (rebase_share), too few tails to merge.
    sharing = CompactionPolicy(
        merge_at_segments=4, rebase_min_rows=1, rebase_share=1.0, sweep_interval_s=0
    )
    assert Compactor(store, sharing).run_once() == 0
    assert rebasing.run_once() == 4
    _assert_unchanged(history, ["base"] * 2)

    # Every output is younger than the grace: nothing it replaced was deleted.
    for relation in COMPACTED:
        tails = sum(1 for name, _ in store.segments(RELATIONS[relation]) if name.kind == "tail")
        assert tails == 2 * (6 + 3 + 1)


def test_a_full_merge_is_not_merged_again_until_the_rebase(store: Store) -> None:
    """A merge's input stays bounded: new tails merge beside a full merge, not into it."""
    history = History(store)
    small = CompactionPolicy(
        merge_at_segments=4,
        merge_max_rows=KEYS_PER_PARTITION,  # any merge of 4 tails of 5 rows is full
        rebase_min_rows=10**9,
        retention=None,
        sweep_interval_s=0,
    )
    compactor = Compactor(store, small)
    for round_ in range(1, 4):
        for _ in range(4):
            for relation in COMPACTED:
                history.tail(relation)
        assert compactor.run_once() == len(COMPACTED)
        _assert_unchanged(history, ["merge"] * round_)
    for relation in COMPACTED:
        ranges = [(s.first, s.last) for s in current(store, relation)]
        assert ranges == [(0, 19), (20, 39), (40, 59)], relation
    rebasing = Compactor(store, replace(small, rebase_min_rows=1))
    assert rebasing.run_once() == len(COMPACTED)
    _assert_unchanged(history, ["base"])


def test_the_compactor_is_held_to_its_memory_limit_and_spills_into_the_store(
    store: Store,
) -> None:
    compactor = Compactor(store, CompactionPolicy(memory_mib=64))
    limit, spill = compactor.connection.execute(
        "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
    ).fetchone() or (None, None)
    assert limit == "64.0 MiB"
    assert Path(spill) == store.root / ".compactor-spill"


def test_the_compactor_keeps_nothing_per_file_it_has_read(store: Store) -> None:
    """Segment names are unique, so anything kept per file read grows the sink for ever
    (DuckDB's external file cache did: about 1 KiB of RSS per file)."""
    history = History(store)
    compactor = Compactor(store, MERGE_ONLY)
    for _ in range(5):
        for _ in range(4):
            history.tail("status_events")
        assert compactor.run_once() == 1
    (cached,) = compactor.connection.execute(
        "SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory()"
        " WHERE tag = 'OBJECT_CACHE'"
    ).fetchone() or (None,)
    assert cached == 0, f"{cached} bytes kept for the files merged"


def test_the_compactor_opens_a_fresh_database_after_its_quota_of_segments(
    store: Store,
) -> None:
    """DuckDB keeps native memory per query for the life of its database instance, so a
    long-running compactor only stays bounded if it changes instances now and then."""
    history = History(store)
    quota = len(COMPACTED) + 1
    compactor = Compactor(store, replace(MERGE_ONLY, memory_mib=64, segments_per_connection=quota))

    def merge_round() -> None:
        for _ in range(4):
            for relation in COMPACTED:
                history.tail(relation)
        assert compactor.run_once() == len(COMPACTED)

    first = compactor.connection
    merge_round()
    assert compactor.connection is first
    merge_round()
    second = compactor.connection
    assert second is not first
    with pytest.raises(duckdb.ConnectionException):
        first.execute("SELECT 1")
    (limit,) = second.execute("SELECT current_setting('memory_limit')").fetchone() or (None,)
    assert limit == "64.0 MiB"
    merge_round()  # with the macros the merges use, on the new database too
    _assert_unchanged(history, ["merge"])


# -- crash safety ------------------------------------------------------------------------


def test_a_half_written_output_is_ignored_then_removed(store: Store) -> None:
    history = History(store)
    for _ in range(4):
        history.tail("messages")
    directory = store.directory(RELATIONS["messages"])
    bogus = [
        {**row, "status": "half-written", "_offset": 10**6}
        for row in history.latest_records("messages")
    ]
    # What write_atomically leaves when the process dies: a temporary, complete or not.
    complete = directory / f".{SegmentName(0, 'base', 0, 19, now_ms() - HOUR_MS).filename}.1.tmp"
    pq.write_table(pa.Table.from_pylist(bogus, schema=RELATIONS["messages"].schema), complete)
    truncated = directory / f".{SegmentName(0, 'merge', 0, 19, now_ms()).filename}.2.tmp"
    truncated.write_bytes(complete.read_bytes()[: complete.stat().st_size // 2])
    before = on_disk(store, "messages")

    expected = history.expected("messages")
    assert snapshot(store, "messages") == expected
    assert live(store, "messages") == expected

    store.remove_temporaries()
    assert not complete.exists() and not truncated.exists()
    assert on_disk(store, "messages") == before
    assert snapshot(store, "messages") == expected


def _age(store: Store, relation: str, kind: str) -> None:
    """Make every ``kind`` output an hour old, as if the crash was that long ago."""
    for name, path in store.segments(RELATIONS[relation]):
        if name.kind == kind:
            older = SegmentName(name.partition, kind, name.first, name.last, now_ms() - HOUR_MS)
            path.rename(path.with_name(older.filename))


def test_completed_outputs_whose_inputs_remain_change_nothing(store: Store) -> None:
    history = History(store)
    for partition in (0, 1):
        for _ in range(4):
            history.tail("messages", partition)
    expected = history.expected("messages")
    tails = on_disk(store, "messages")
    merging = Compactor(store, MERGE_ONLY)

    # The compactor dies right after its merges: inputs and outputs side by side.
    assert merging.run_once() == 2
    assert tails < on_disk(store, "messages")
    assert snapshot(store, "messages") == expected  # reads the merges
    assert live(store, "messages") == expected  # still reads the tails (reader gate)
    _age(store, "messages", "merge")
    assert kinds(store, "messages") == ["merge", "merge"]
    assert live(store, "messages") == expected

    # Restarted, it merges the same range again: the later merge counts, once.
    for partition in (0, 1):
        partition_tails = [s for s in current(store, "messages") if s.partition == partition]
        assert len(partition_tails) == 1
        merging.merge(RELATIONS["messages"], partition_tails)
    assert len(on_disk(store, "messages")) == len(tails) + 4
    assert kinds(store, "messages") == ["merge", "merge"]
    assert snapshot(store, "messages") == expected
    assert live(store, "messages") == expected

    # Then a rebase, and again a crash before anything is deleted.
    history.tail("messages", 0)
    history.tail("messages", 1)
    expected = history.expected("messages")
    assert Compactor(store, REBASE).run_once() == 2
    assert snapshot(store, "messages") == expected
    assert live(store, "messages") == expected
    _age(store, "messages", "base")
    assert kinds(store, "messages") == ["base", "base"]
    assert live(store, "messages") == expected


# -- deletion ----------------------------------------------------------------------------


def _replaced_and_output(store: Store, kind: str, age_ms: int) -> tuple[History, list[Path], Path]:
    """Tails (and for a base, an older base) replaced by one output ``age_ms`` old."""
    history = History(store)
    replaced = []
    if kind == "base":
        first_tails = [history.tail("messages"), history.tail("messages")]
        replaced.append(
            write(store, "messages", "base", history.latest_records("messages"), first=0)
        )
        for path in first_tails:  # replaced long ago by that base, and deleted then
            path.unlink()
    replaced += [history.tail("messages") for _ in range(4)]
    output = write(
        store,
        "messages",
        kind,
        history.latest_records("messages"),
        first=0,
        created_ms=now_ms() - age_ms,
    )
    return history, replaced, output


@pytest.mark.parametrize(
    ("age_ms", "deleted"),
    [
        (0, False),
        (READER_GATE_MS + 5_000, False),  # live readers use it; snapshots may use its inputs
        (SETTLED_MS - 10_000, False),
        (SETTLED_MS + 10_000, True),
        (HOUR_MS, True),
    ],
    ids=["new", "past-gate", "within-grace", "past-grace", "hour-old"],
)
@pytest.mark.parametrize("kind", ["merge", "base"])
def test_replaced_segments_are_deleted_only_after_the_grace(
    store: Store, kind: str, age_ms: int, deleted: bool
) -> None:
    history, replaced, output = _replaced_and_output(store, kind, age_ms)
    expected = history.expected("messages")
    assert snapshot(store, "messages") == expected

    assert Compactor(store, IDLE).run_once() == 0
    assert [path.exists() for path in replaced] == [not deleted] * len(replaced)
    assert output.exists()
    assert snapshot(store, "messages") == expected
    assert live(store, "messages") == expected


def test_a_tail_replaced_by_a_base_of_the_same_range_is_deleted(store: Store) -> None:
    history = History(store)
    tail = history.tail("messages", count=5)
    base = write(store, "messages", "base", history.latest_records("messages"))
    assert kinds(store, "messages") == ["base"]  # readers use the base alone

    assert Compactor(store, IDLE).run_once() == 0  # the base is an hour old: settled
    assert base.exists()
    assert not tail.exists()


def test_an_output_replaced_within_the_grace_stays_for_snapshots_taken_meanwhile(
    store: Store,
) -> None:
    history = History(store)
    for _ in range(4):
        history.tail("messages")
    assert Compactor(store, MERGE_ONLY).run_once() == 1
    (merge,) = [p for n, p in store.segments(RELATIONS["messages"]) if n.kind == "merge"]
    reader = connect(Settings(data_dir=store.root.parent))  # its snapshot reads the merge
    try:
        count = len(history.expected("messages"))
        assert run_query(reader, "SELECT count(*) FROM messages").rows == [(count,)]

        history.tail("messages")
        rebasing = Compactor(store, REBASE)
        assert rebasing.run_once() == 1  # a base replaces the merge at once, for snapshots
        assert rebasing.run_once() == 0  # a pass that only deletes

        assert merge.exists(), "deleted while a snapshot taken a moment ago reads it"
        assert run_query(reader, "SELECT count(*) FROM messages").rows == [(count,)]
    finally:
        reader.close()
    assert snapshot(store, "messages") == history.expected("messages")


def test_a_tail_written_during_a_pass_is_never_deleted(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sink writes tails while the compactor runs in the thread beside it."""
    history, replaced, _ = _replaced_and_output(store, "merge", HOUR_MS)
    written: list[Path] = []
    list_segments = store.segments

    def sink_writes_a_tail() -> None:
        written.append(history.tail("messages", count=2))

    def segments_meanwhile(*args: Any, **kwargs: Any) -> Any:
        sink_writes_a_tail()
        return list_segments(*args, **kwargs)

    def current_meanwhile(*args: Any, **kwargs: Any) -> Any:
        found = current_segments(*args, **kwargs)
        sink_writes_a_tail()
        return found

    monkeypatch.setattr(store, "segments", segments_meanwhile)
    monkeypatch.setattr("analytics.compactor.current_segments", current_meanwhile)
    Compactor(store, IDLE).run_once()
    monkeypatch.undo()

    assert written, "the pass neither listed nor queried the segments"
    assert not any(path.exists() for path in replaced), "the settled merge deleted nothing"
    assert [path.name for path in written if not path.exists()] == []
    assert snapshot(store, "messages") == history.expected("messages")


# -- retention ---------------------------------------------------------------------------


def test_a_rebase_drops_rows_past_retention_from_retained_relations_only(store: Store) -> None:
    old, recent = NOW - timedelta(days=31), NOW - timedelta(days=29)

    def message_at(message_id: str, at: datetime, offset: int) -> Row:
        return fact(
            "messages",
            provider="smstools",
            message_id=message_id,
            status="delivered",
            provider_status="DELIVERED",
            is_terminal=True,
            created_at=at,
            events=2,
            last_event_at=at + timedelta(seconds=5),
            _partition=0,
            _offset=offset,
        )

    def event_at(event_id: str, at: datetime, offset: int) -> Row:
        return fact(
            "status_events",
            event_id=event_id,
            provider="smstools",
            message_id=event_id,
            direction="outbound",
            status="delivered",
            provider_status="DELIVERED",
            provider_status_known=True,
            event_time=at,
            received_at=at + timedelta(seconds=1),
            _partition=0,
            _offset=offset,
        )

    def inbound_at(message_id: str, at: datetime, offset: int) -> Row:
        return fact(
            "inbound_messages",
            event_id=message_id,
            provider="smsgateway24",
            message_id=message_id,
            received_at=at,
            _partition=0,
            _offset=offset,
        )

    write(store, "messages", "tail", [message_at("old", old, 0), message_at("recent", recent, 1)])
    write(store, "status_events", "tail", [event_at("old", old, 0), event_at("recent", recent, 1)])
    write(
        store,
        "inbound_messages",
        "tail",
        [inbound_at("old", old, 0), inbound_at("recent", recent, 1)],
    )

    def ids(relation: str) -> set[str]:
        rows = snapshot(store, relation).values()
        return {row["event_id" if relation == "status_events" else "message_id"] for row in rows}

    for relation in ("messages", "status_events", "inbound_messages"):
        assert ids(relation) == {"old", "recent"}, relation  # retention applies on rebase only

    policy = CompactionPolicy(rebase_min_rows=1, retention=timedelta(days=30), sweep_interval_s=0)
    assert Compactor(store, policy).run_once() == 3
    for relation in ("messages", "status_events", "inbound_messages"):
        assert kinds(store, relation) == ["base"], relation

    assert ids("status_events") == {"recent"}
    assert ids("inbound_messages") == {"recent"}
    assert ids("messages") == {"old", "recent"}  # messages are kept whatever their age
    (old_message,) = [r for r in snapshot(store, "messages").values() if r["message_id"] == "old"]
    assert old_message["created_at"] == old
