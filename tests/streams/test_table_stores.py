"""Every table's RocksDB databases share the worker's one memory budget, not Faust's defaults."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from smsradar.settings import Settings
from streams.app import create_app

MIB = 1024 * 1024
MEMTABLES = "rocksdb.cur-size-all-mem-tables"


def rocksdb_app_tables(
    tmp_path: Path, write_buffer_mib: int, block_cache_mib: int
) -> dict[str, Any]:
    settings = Settings(
        _env_file=None,
        table_store="rocksdb://",
        data_dir=tmp_path,
        topic_partitions=4,
        rocksdb_write_buffer_mib=write_buffer_mib,
        rocksdb_block_cache_mib=block_cache_mib,
    )
    app = create_app(settings)
    return {name: table.data for name, table in app.tables.items()}


def test_every_table_opens_its_databases_in_the_one_budget(tmp_path: Path) -> None:
    stores = rocksdb_app_tables(tmp_path, write_buffer_mib=3, block_cache_mib=5)
    assert set(stores) == {"join-state", "alert-state", "alert-notified"}
    budgets = {id(store.rocksdb_options.budget) for store in stores.values()}
    assert len(budgets) == 1, "each table has a budget of its own"
    for name, store in stores.items():
        db = store.rocksdb_options.open(tmp_path / f"{name}.db")
        try:
            assert db.property_int_value("rocksdb.block-cache-capacity") == 5 * MIB, name
        finally:
            db.close()


def test_memtables_of_all_databases_stay_near_the_write_buffer_budget(tmp_path: Path) -> None:
    """12 databases each written less than a memtable (1 MiB under a 4 MiB budget): on
    their own none would flush and together they would hold 12 MiB for ever, as rarely
    written alert state did for hours. Under the budget they are flushed down near it."""
    stores = rocksdb_app_tables(tmp_path, write_buffer_mib=4, block_cache_mib=1)
    databases = [
        store.rocksdb_options.open(tmp_path / f"{name}-{partition}.db")
        for name, store in stores.items()
        for partition in range(4)
    ]
    try:
        value = os.urandom(1024)  # incompressible, as serialized state roughly is
        # Round after round, as events come: RocksDB flushes the database being written.
        for key in range(900):
            for number, db in enumerate(databases):
                db.put(f"message-{number}-{key}".encode(), value)

        def held() -> int:
            return sum(db.property_int_value(MEMTABLES) for db in databases)

        # The manager acts on writes (it flushes the database being written once the
        # memtables pass 7/8 of the budget) and flushes run in the background, so the
        # total is judged near the budget while a little more traffic comes: at most 50
        # rounds, which leaves every database below its own memtable size.
        bound = 6 * MIB
        keys = 900
        while held() > bound and keys < 950:
            for number, db in enumerate(databases):
                db.put(f"message-{number}-{keys}".encode(), value)
            keys += 1
            time.sleep(0.1)
        final = held()
        readable = all(
            db[f"message-{number}-{key}".encode()] == value
            for number, db in enumerate(databases)
            for key in range(keys)
        )
    finally:
        for db in databases:
            db.close()
    assert readable, "every write must be readable, flushed or not"
    assert final <= bound, f"memtables hold {final / MIB:.1f} MiB under a 4 MiB budget"


def test_the_memory_store_ignores_the_budget(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, table_store="memory://", data_dir=tmp_path)
    app = create_app(settings)
    for table in app.tables.values():
        assert type(table.data).__module__ == "faust.stores.memory"
