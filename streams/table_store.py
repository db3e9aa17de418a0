"""The worker's RocksDB databases under one memory budget.

Faust opens a RocksDB database per table per partition (3 tables x ``topic_partitions``
here) and sizes each on its own: its write buffers, its block cache. Memory then grows with
the partition count, and a database written rarely (alert state) fills its write buffers over
hours, which the soak saw as steady growth (+38 to +64 MiB/h with 2 MiB buffers and a 4 MiB
cache per database, 12 databases). Here one write buffer manager and one block cache serve
every database of the worker: past the budget, RocksDB flushes the memtables of the
database being written, so the total stays bounded whatever the number of partitions.
"""

from __future__ import annotations

from typing import Any

import rocksdict
from faust.stores import rocksdb as faust_rocksdb
from faust.types import StoreT
from yarl import URL

from streams.changelog import HeldChangelog

MIB = 1024 * 1024
MEMORY_BUDGET = "memory_budget"  # the key of a table's options that carries the budget


class MemoryBudget:
    """The RocksDB memory of one worker, shared by all its tables' databases."""

    def __init__(self, write_buffer_bytes: int, block_cache_bytes: int) -> None:
        self.write_buffer_bytes = write_buffer_bytes
        # allow_stall=False: over budget, writers trigger flushes instead of waiting.
        self.write_buffers = rocksdict.WriteBufferManager(write_buffer_bytes, False)
        self.block_cache = rocksdict.Cache(block_cache_bytes)

    @property
    def memtable_bytes(self) -> int:
        """One memtable's size: a quarter of the budget, so that a few busy databases
        share it and the manager, not a single memtable, decides when to flush."""
        return max(MIB // 4, self.write_buffer_bytes // 4)


class _BudgetedOptions(faust_rocksdb.RocksDBOptions):
    def __init__(self, budget: MemoryBudget, **options: Any) -> None:
        super().__init__(**options, use_rocksdict=True)
        self.budget = budget

    def as_options(self) -> rocksdict.Options:
        options = rocksdict.Options(raw_mode=True)
        options.create_if_missing(True)
        if self.max_open_files is not None:
            options.set_max_open_files(self.max_open_files)
        options.set_target_file_size_base(self.target_file_size_base)
        options.set_write_buffer_size(self.budget.memtable_bytes)
        options.set_max_write_buffer_number(2)  # one filling, one being flushed
        options.set_write_buffer_manager(self.budget.write_buffers)
        table = rocksdict.BlockBasedOptions()
        table.set_bloom_filter(self.bloom_filter_size, True)
        table.set_index_type(rocksdict.BlockBasedIndexType.binary_search())
        table.set_block_cache(self.budget.block_cache)
        # Index and filter blocks count against the cache too; outside it they grow with
        # the number of files on disk.
        table.set_cache_index_and_filter_blocks(True)
        options.set_block_based_table_factory(table)
        return options


class Table(HeldChangelog):
    """Faust's table; with ``rocksdb://`` and a budget in its options, its databases
    open under that budget (``create_app`` passes the worker's one budget to every table).
    Its changelog records may be held for batched sends (``streams.changelog``)."""

    def _new_store_by_url(self, url: str | URL) -> StoreT:  # type: ignore[type-arg]
        options = dict(self.options or {})
        budget = options.pop(MEMORY_BUDGET, None)
        self.options = options
        store = super()._new_store_by_url(url)
        # Faust's store opens its databases later, with these options, so swapping them
        # here is enough; its options have lost read_only/driver by now (it pops them).
        if budget is not None and isinstance(store, faust_rocksdb.Store):
            store.rocksdb_options = _BudgetedOptions(budget, **(store.options or {}))
        return store
