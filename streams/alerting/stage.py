"""The alerting stages of the stream worker.

    failure-rate facts --route--> alert windows topic (key rule|dimension|value)
                       --evaluate--> alerts fact topic --notify--> webhook, Slack, log

Failure-rate facts are keyed by window and by the stream partition that counted them,
so one series' counts are spread over partitions; ``route`` re-keys them by series so
that one worker holds each series' state (baseline, alert state) in its table.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, MutableMapping, Sequence
from typing import Any

from pydantic import ValidationError

from smsradar.facts import FailureRateFact
from streams.alerting.detector import SeriesDetector, SeriesState
from streams.alerting.rules import AlertConfig
from streams.batch import WriteBehind
from streams.topics import Emit, Topics, dead_letter, dump

log = logging.getLogger("smsradar.alerts")


def series_key(rule: str, dimension: str, value: str) -> str:
    return f"{rule}|{dimension}|{value}"


class AlertRouter:
    """Failure-rate facts -> one alert-window record per rule watching the fact's dimension."""

    def __init__(self, config: AlertConfig, emit: Emit, topics: Topics) -> None:
        self.config = config
        self.emit = emit
        self.topics = topics

    async def route(self, value: bytes) -> None:
        try:
            fact = FailureRateFact.model_validate_json(value)
        except ValidationError as exc:
            await dead_letter(self.emit, self.topics, "alert-route", value, exc)
            return
        for rule in self.config.rules_for(fact.dimension):
            key = series_key(rule.name, fact.dimension, fact.dimension_value)
            await self.emit(self.topics.alert_windows, key, value, None)


class AlertEvaluator:
    """Alert-window records -> each series' detector state (in ``table``) and alert facts.

    Records are taken in batches: a batch's table writes are held back and written once per
    series when it ends (``streams.batch``). The detector skips a record at or below the
    offset its state last applied, so whichever of a batch's writes a crash keeps, the
    replay of the batch re-applies exactly the records whose state was lost.
    """

    def __init__(
        self,
        config: AlertConfig,
        window_s: int,
        table: MutableMapping[str, Any],
        emit: Emit,
        topics: Topics,
    ) -> None:
        self.config = config
        self.window_s = window_s
        self.table = table
        self.emit = emit
        self.topics = topics

    async def evaluate_batch(
        self,
        records: Sequence[tuple[str, bytes, int, int]],
        enter_partition: Callable[[int], None],
    ) -> None:
        """Apply records (key, value, partition, offset) in the order read."""
        table = WriteBehind(self.table, enter_partition)
        for key, value, partition, offset in records:
            table.enter(partition)
            await self._evaluate(table, key, value, offset)
        table.flush(lambda key, deleted: 0)

    async def _evaluate(
        self, table: MutableMapping[str, Any], key: str, value: bytes, offset: int
    ) -> None:
        """One series' window update -> its alert facts, if its alert changes state."""
        try:
            rule = self.config.rule(key.split("|", 1)[0])
            fact = FailureRateFact.model_validate_json(value)
        except (KeyError, ValidationError) as exc:
            # KeyError: a rule removed from the file since the record was routed.
            await dead_letter(self.emit, self.topics, "alert-evaluate", value, exc)
            return
        detector = SeriesDetector(rule, self.window_s, SeriesState.from_json(table.get(key)))
        alerts = detector.observe(fact, offset)
        table[key] = detector.state.to_json()
        for alert in alerts:
            await self.emit(self.topics.alerts, alert.alert_id, dump(alert), None)
