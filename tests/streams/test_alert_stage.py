"""The alert evaluation stage (streams.alerting.stage) in batches, on a plain dict table."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from smsradar.settings import Settings
from streams.alerting.rules import AlertConfig
from streams.alerting.stage import AlertEvaluator, series_key
from streams.topics import Topics
from tests.streams.test_alert_detector import DEVICE_RULE, WINDOW_S, Phase, run, updates

PHASES = [Phase(60, 12, 0.03), Phase(10, 12, 0.6), Phase(40, 12, 0.03)]
KEY = series_key(DEVICE_RULE.name, "device", "1004")


class CountingTable(dict[str, Any]):
    writes = 0

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes += 1
        super().__setitem__(key, value)


class Sent:
    def __init__(self) -> None:
        self.records: list[tuple[str, str, bytes, dict[str, bytes] | None]] = []

    async def __call__(
        self, topic: str, key: str, value: bytes, headers: dict[str, bytes] | None
    ) -> None:
        self.records.append((topic, key, value, headers))


def _evaluate(
    records: list[tuple[str, bytes, int, int]], batch_size: int
) -> tuple[CountingTable, Sent, Topics]:
    table, sent, topics = CountingTable(), Sent(), Topics.of(Settings())
    evaluator = AlertEvaluator(AlertConfig(rules=(DEVICE_RULE,)), WINDOW_S, table, sent, topics)

    async def main() -> None:
        for first in range(0, len(records), batch_size):
            await evaluator.evaluate_batch(records[first : first + batch_size], lambda p: None)

    asyncio.run(main())
    return table, sent, topics


def _records() -> list[tuple[str, bytes, int, int]]:
    return [
        (KEY, fact.model_dump_json().encode(), 0, offset)
        for offset, fact in enumerate(updates(PHASES, seed=2))
    ]


@pytest.mark.parametrize("batch_size", [1, 7, 500])
def test_batches_give_the_alerts_of_one_record_at_a_time(batch_size: int) -> None:
    records = _records()
    table, sent, topics = _evaluate(records, batch_size)
    one_at_a_time = run(PHASES, seed=2)
    assert [a.state for a in one_at_a_time] == ["firing", "resolved"]
    alerts = [(key, value) for topic, key, value, _ in sent.records if topic == topics.alerts]
    assert [key for key, _ in alerts] == [a.alert_id for a in one_at_a_time]
    assert [value for _, value in alerts] == [a.model_dump_json().encode() for a in one_at_a_time]
    batches = -(-len(records) // batch_size)
    assert table.writes == batches  # one write per series and batch, not per record
    assert table[KEY]["applied"] == len(records) - 1


def test_a_replayed_batch_changes_nothing_and_re_emits_only_the_last_alert() -> None:
    records = _records()
    table, sent, topics = _evaluate(records, 500)
    final = dict(table[KEY])
    evaluator = AlertEvaluator(AlertConfig(rules=(DEVICE_RULE,)), WINDOW_S, table, sent, topics)
    resolved_at = final["last_alert_offset"]
    (resolved,) = [value for _, _, value, _ in sent.records[-1:]]
    sent.records.clear()
    # the crash lost the alert fact sent while the batch ran; the replay re-sends it
    asyncio.run(evaluator.evaluate_batch(records[resolved_at - 5 :], lambda p: None))
    assert table[KEY] == final
    assert [value for _, _, value, _ in sent.records] == [resolved]


def test_a_record_naming_no_rule_is_dead_lettered() -> None:
    records = [("", b"{}", 0, 0), ("no-such-rule|device|1", b"{}", 0, 1)]
    table, sent, topics = _evaluate(records, 10)
    assert [(topic, key) for topic, key, _, _ in sent.records] == [
        (topics.deadletter, "alert-evaluate")
    ] * 2
    assert not table
