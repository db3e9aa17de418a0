"""The alerting stages of the stream worker.

    failure-rate facts --route--> alert windows topic (key rule|dimension|value)
                       --evaluate--> alerts fact topic --notify--> webhook, Slack, log

Failure-rate facts are keyed by window and by the stream partition that counted them,
so one series' counts are spread over partitions; ``route`` re-keys them by series so
that one worker holds each series' state (baseline, alert state) in its table.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

from pydantic import ValidationError

from smsradar.facts import FailureRateFact
from streams.alerting.detector import SeriesDetector, SeriesState
from streams.alerting.rules import AlertConfig
from streams.topics import Emit, Topics, dead_letter, dump

log = logging.getLogger("smsradar.alerts")


def series_key(rule: str, dimension: str, value: str) -> str:
    return f"{rule}|{dimension}|{value}"


class AlertEvaluator:
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

    async def route(self, value: bytes) -> None:
        """A failure-rate fact -> one record per rule watching its dimension."""
        try:
            fact = FailureRateFact.model_validate_json(value)
        except ValidationError as exc:
            await dead_letter(self.emit, self.topics, "alert-route", value, exc)
            return
        for rule in self.config.rules_for(fact.dimension):
            key = series_key(rule.name, fact.dimension, fact.dimension_value)
            await self.emit(self.topics.alert_windows, key, value, None)

    async def evaluate(self, key: str, value: bytes, offset: int) -> None:
        """One series' window update -> its alert facts, if its alert changes state."""
        try:
            rule = self.config.rule(key.split("|", 1)[0])
            fact = FailureRateFact.model_validate_json(value)
        except (KeyError, ValidationError) as exc:
            # KeyError: a rule removed from the file since the record was routed.
            await dead_letter(self.emit, self.topics, "alert-evaluate", value, exc)
            return
        detector = SeriesDetector(rule, self.window_s, SeriesState.from_json(self.table.get(key)))
        alerts = detector.observe(fact, offset)
        self.table[key] = detector.state.to_json()
        for alert in alerts:
            await self.emit(self.topics.alerts, alert.alert_id, dump(alert), None)
