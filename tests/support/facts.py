"""Read the fact topics back and compare them with a simulation's ground truth."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from smsradar.settings import Settings
from smsradar.simulator import InboundTruth, MessageTruth
from tests.support.kafka import read_topics

WindowKey = tuple[str, str, str]  # (window_start ISO, dimension, value)


@dataclass
class Facts:
    """The latest value per key of every fact topic (what a compacted topic keeps)."""

    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    status_events: dict[str, dict[str, Any]] = field(default_factory=dict)
    inbound: dict[str, dict[str, Any]] = field(default_factory=dict)
    window_rows: dict[str, dict[str, Any]] = field(default_factory=dict)

    def windows(self) -> dict[WindowKey, tuple[int, int, int]]:
        """(delivered, failed, unknown) per window and dimension value, partitions summed."""
        summed: Counter[tuple[WindowKey, int]] = Counter()
        for row in self.window_rows.values():
            key = (_iso(row["window_start"]), row["dimension"], row["dimension_value"])
            for slot, name in enumerate(("delivered", "failed", "unknown")):
                summed[(key, slot)] += row[name]
        result: dict[WindowKey, list[int]] = {}
        for (key, slot), count in summed.items():
            result.setdefault(key, [0, 0, 0])[slot] = count
        return {key: (d, f, u) for key, (d, f, u) in result.items() if d + f + u}


def read_facts(settings: Settings) -> Facts:
    relations = {
        settings.fact_topic("messages"): "messages",
        settings.fact_topic("status_events"): "status_events",
        settings.fact_topic("inbound_messages"): "inbound",
        settings.fact_topic("failure_rates"): "window_rows",
    }
    facts = Facts()
    records = read_topics(settings.bootstrap_servers, list(relations), timeout_s=30)
    for record in sorted(records, key=lambda r: (r.topic, r.partition, r.offset)):
        assert record.key is not None, f"unkeyed record on {record.topic}"
        getattr(facts, relations[record.topic])[record.key.decode()] = orjson.loads(record.value)
    return facts


def _iso(value: str | datetime) -> str:
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at.astimezone(UTC).isoformat()


def _window_start(at: datetime, window_s: int) -> str:
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % window_s, tz=UTC).isoformat()


def expected_windows(
    truth: list[MessageTruth], window_s: int = 60
) -> dict[WindowKey, tuple[int, int, int]]:
    counts: dict[WindowKey, list[int]] = {}
    slots = {"delivered": 0, "failed": 1, "unknown": 2}
    for message in truth:
        if message.outcome is None or message.outcome_at is None:
            continue
        start = _window_start(message.outcome_at, window_s)
        values = [
            ("overall", "all"),
            ("provider", message.provider),
            ("country", message.recipient_country or "unknown"),
        ]
        if message.device_id is not None:
            values.append(("device", message.device_id))
            if message.sim is not None:
                values.append(("sim", f"{message.device_id}/{message.sim}"))
        if message.outcome == "failed":
            category = message.error_category.value if message.error_category else "unspecified"
            values.append(("error_category", category))
        for dimension, value in values:
            counts.setdefault((start, dimension, value), [0, 0, 0])[slots[message.outcome]] += 1
    return {key: (d, f, u) for key, (d, f, u) in counts.items()}


MESSAGE_FIELDS = (
    "status",
    "provider_status",
    "error_category",
    "device_id",
    "sim",
    "recipient",
    "recipient_country",
    "created_at",
    "sent_at",
    "delivered_at",
    "failed_at",
    "read_at",
    "outcome_at",
    "queue_latency_s",
    "delivery_latency_s",
    "total_latency_s",
    "events",
)


def expected_messages(truth: list[MessageTruth]) -> dict[str, dict[str, Any]]:
    expected = {}
    for message in truth:
        row = {name: getattr(message, name) for name in MESSAGE_FIELDS}
        expected[f"{message.provider}:{message.message_id}"] = _jsonable(row)
    return expected


def actual_messages(facts: Facts) -> dict[str, dict[str, Any]]:
    return {
        key: _jsonable({name: value[name] for name in MESSAGE_FIELDS})
        for key, value in facts.messages.items()
    }


def expected_inbound(truth: list[InboundTruth]) -> dict[str, dict[str, Any]]:
    return {
        f"{m.provider}:{m.message_id}": _jsonable(
            {
                "sender": m.sender,
                "received_at": m.received_at,
                "reply_to_message_id": m.reply_to_message_id,
            }
        )
        for m in truth
    }


def actual_inbound(facts: Facts) -> dict[str, dict[str, Any]]:
    return {
        key: _jsonable({k: v[k] for k in ("sender", "received_at", "reply_to_message_id")})
        for key, v in facts.inbound.items()
    }


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    """Normalise times to UTC ISO strings and enums to their values, for comparison."""
    result: dict[str, Any] = {}
    for name, value in row.items():
        if isinstance(value, datetime) or (
            isinstance(value, str) and name.endswith(("_at",)) and value
        ):
            value = _iso(value)
        elif hasattr(value, "value"):
            value = value.value
        result[name] = value
    return result


def wait_for_facts(
    settings: Settings,
    messages: list[MessageTruth],
    inbound: list[InboundTruth],
    timeout_s: float = 120.0,
) -> Facts:
    """Read the fact topics until they match the truth or the timeout passes."""
    want_messages, want_inbound = expected_messages(messages), expected_inbound(inbound)
    want_windows = expected_windows(messages, settings.failure_window_s)
    deadline = time.monotonic() + timeout_s
    while True:
        facts = read_facts(settings)
        if (
            actual_messages(facts) == want_messages
            and actual_inbound(facts) == want_inbound
            and facts.windows() == want_windows
        ) or time.monotonic() > deadline:
            return facts
        time.sleep(1.0)


def describe_difference(
    facts: Facts, messages: list[MessageTruth], inbound: list[InboundTruth]
) -> str:
    """A short account of what differs, for the assertion message."""
    lines = []
    want, got = expected_messages(messages), actual_messages(facts)
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    wrong = [key for key in sorted(set(want) & set(got)) if want[key] != got[key]]
    lines.append(f"messages: {len(got)}/{len(want)}, missing {missing[:5]}, extra {extra[:5]}")
    for key in wrong[:3]:
        diff = {k: (want[key][k], got[key][k]) for k in want[key] if want[key][k] != got[key][k]}
        lines.append(f"  {key}: (want, got) {diff}")
    lines.append(f"  wrong: {len(wrong)}")
    want_in, got_in = expected_inbound(inbound), actual_inbound(facts)
    lines.append(f"inbound: {len(got_in)}/{len(want_in)} equal={want_in == got_in}")
    want_w, got_w = expected_windows(messages), facts.windows()
    differing = [k for k in set(want_w) | set(got_w) if want_w.get(k) != got_w.get(k)]
    lines.append(f"windows: {len(got_w)}/{len(want_w)}, differing {len(differing)}")
    for window in sorted(differing)[:5]:
        lines.append(f"  {window}: want {want_w.get(window)} got {got_w.get(window)}")
    return "\n".join(lines)
