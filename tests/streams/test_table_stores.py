"""Every table's RocksDB databases get the worker's memory bounds, not Faust's defaults."""

from __future__ import annotations

from pathlib import Path

from smsradar.settings import Settings
from streams.app import create_app

MIB = 1024 * 1024


def test_every_table_opens_rocksdb_with_the_configured_sizes(tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        table_store="rocksdb://",
        data_dir=tmp_path,
        rocksdb_write_buffer_mib=3,
        rocksdb_block_cache_mib=5,
    )
    app = create_app(settings)
    tables = {name: table.data for name, table in app.tables.items()}
    assert set(tables) == {"join-state", "alert-state", "alert-notified"}
    for name, store in tables.items():
        options = store.rocksdb_options
        assert options.write_buffer_size == 3 * MIB, name
        assert options.max_write_buffer_number == 2, name
        assert options.block_cache_size == 5 * MIB, name
        # a database really opens with them
        db = options.open(tmp_path / f"{name}.db")
        db.close()
