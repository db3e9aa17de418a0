"""The relations of the analytics store: which fact topic fills each, its key and schema.

The Arrow schema of a relation is derived from its fact model (``smsradar.facts``), plus
the fact's position in its topic (``_partition``, ``_offset``): the latest offset of a key
is its current row, which is what makes a replayed or duplicated record harmless.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

import pyarrow as pa
from pydantic import BaseModel

from smsradar.facts import AlertFact, FailureRateFact, InboundFact, MessageFact, StatusEventFact

POSITION_COLUMNS = ("_partition", "_offset")


@dataclass(frozen=True)
class Relation:
    name: str  # the relation users query (CONTRACT.md), and the fact topic's suffix
    fact: type[BaseModel]
    key: tuple[str, ...]  # one row per key: the record with the highest offset
    time_column: str  # segments are sorted by it, so time-range filters skip row groups
    # Rows older than the retention (by time_column) are dropped when a base is rewritten;
    # None keeps them forever.
    retained: bool = False

    @property
    def schema(self) -> pa.Schema:
        fields = [
            pa.field(name, _arrow_type(info.annotation), nullable=_optional(info.annotation))
            for name, info in self.fact.model_fields.items()
        ]
        fields += [
            pa.field("_partition", pa.int32(), False),
            pa.field("_offset", pa.int64(), False),
        ]
        return pa.schema(fields)

    @property
    def segment_name(self) -> str:
        """Where its segments live; ``failure_rates`` is summed over stream partitions."""
        return "failure_rate_partials" if self.name == "failure_rates" else self.name


RELATIONS: dict[str, Relation] = {
    relation.name: relation
    for relation in (
        Relation("messages", MessageFact, ("provider", "message_id"), "created_at"),
        Relation("status_events", StatusEventFact, ("event_id",), "event_time", retained=True),
        Relation(
            "inbound_messages",
            InboundFact,
            ("provider", "message_id"),
            "received_at",
            retained=True,
        ),
        Relation(
            "failure_rates",
            FailureRateFact,
            ("window_start", "dimension", "dimension_value", "partition"),
            "window_start",
        ),
        Relation("alerts", AlertFact, ("alert_id",), "started_at"),
    )
}


def _optional(annotation: object) -> bool:
    return type(None) in typing.get_args(annotation)


def _arrow_type(annotation: object) -> pa.DataType:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        (inner,) = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return _arrow_type(inner)
    if isinstance(annotation, type):
        if issubclass(annotation, bool):
            return pa.bool_()
        if issubclass(annotation, Enum) or issubclass(annotation, str):
            return pa.string()
        if issubclass(annotation, int):
            return pa.int64()
        if issubclass(annotation, float):
            return pa.float64()
        if issubclass(annotation, datetime):
            return pa.timestamp("us", tz="UTC")
    raise TypeError(f"no Arrow type for fact field type {annotation!r}")
