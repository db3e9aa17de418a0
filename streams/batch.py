"""One batch of a stage's records: table writes held back and coalesced, facts deduplicated.

A Faust table write is a changelog record and a fact is a topic record; per event that is
a dozen records, most of them overwritten by the next event of the same message or
window. A batch keeps the last value per table key and per fact key and writes them once,
when the batch ends and before its source offsets are acknowledged, so a crash still
replays every event whose writes may be missing.

Table writes are flushed partition by partition in ``rank`` order (ties in first-write
order): the joiner ranks a message's state before the windows it changes, which keeps the
prefix a crash leaves recoverable (see ``streams.join``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any

from pydantic import BaseModel

from streams.topics import Emit, dump

_DELETED = object()


class WriteBehind(MutableMapping[str, Any]):
    """Reads through to ``table``; writes and deletes wait for :meth:`flush`.

    ``enter_partition(p)`` points the table at partition ``p``: a partitioned store (Faust's
    RocksDB store) reads from and writes to the partition of the current event only.
    """

    def __init__(
        self, table: MutableMapping[str, Any], enter_partition: Callable[[int], None]
    ) -> None:
        self.table = table
        self._enter_partition = enter_partition
        self.partition: int | None = None  # of the event whose reads and writes come next
        self._written: dict[str, tuple[int, Any]] = {}

    def enter(self, partition: int) -> None:
        """The next reads and writes belong to an event of ``partition``."""
        if partition != self.partition:
            self._enter_partition(partition)
            self.partition = partition

    def __getitem__(self, key: str) -> Any:
        if key in self._written:
            value = self._written[key][1]
            if value is _DELETED:
                raise KeyError(key)
            return value
        return self.table[key]

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __setitem__(self, key: str, value: Any) -> None:
        self._written[key] = (self._writing_partition(), value)

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self._written[key] = (self._writing_partition(), _DELETED)

    def _writing_partition(self) -> int:
        if self.partition is None:
            raise RuntimeError("enter(partition) before writing")
        return self.partition

    def __iter__(self) -> Iterator[str]:
        raise TypeError("a write-behind table is not iterated")

    def __len__(self) -> int:
        raise TypeError("a write-behind table is not sized")

    def flush(
        self,
        rank: Callable[[str, bool], int],
        bracket: Mapping[int, tuple[str, Any]] | None = None,
    ) -> None:
        """Write the held-back changes to the table, partition by partition.

        ``bracket[p] = (key, value)``: ``value`` is written to ``key`` before partition
        ``p``'s changes and ``key`` deleted after them, so a crash that keeps a prefix of
        them leaves ``value`` in the table (``streams.join`` journals a batch this way).
        """
        bracket = bracket or {}
        by_partition: dict[int, list[tuple[str, Any]]] = {p: [] for p in bracket}
        for key, (partition, value) in self._written.items():
            by_partition.setdefault(partition, []).append((key, value))
        for partition, writes in by_partition.items():
            self.enter(partition)
            if partition in bracket:
                journal_key, journal = bracket[partition]
                self.table[journal_key] = journal
            for key, value in sorted(writes, key=lambda w: rank(w[0], w[1] is _DELETED)):
                if value is _DELETED:
                    self.table.pop(key, None)
                else:
                    self.table[key] = value
            if partition in bracket:
                self.table.pop(journal_key, None)
        self._written.clear()


class FactBuffer:
    """The latest fact per (topic, key) of a batch, emitted in first-seen order."""

    def __init__(self) -> None:
        self._facts: dict[tuple[str, str], BaseModel] = {}

    def put(self, topic: str, key: str, fact: BaseModel) -> None:
        self._facts[(topic, key)] = fact

    async def emit_to(self, emit: Emit) -> None:
        for (topic, key), fact in self._facts.items():
            await emit(topic, key, dump(fact), None)
        self._facts.clear()
