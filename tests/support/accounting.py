"""Exact accounting of a simulation through the whole system, after whatever failed.

The promise checked: every webhook answered 202 is on its webhook topic and its events are
in ``status_events`` exactly once; every other answer was retried by the simulator until it
got a final one, or is a 400/422 whose request is in the dead-letter topic; the store's
messages, inbound messages and failure-rate windows equal the simulation's ground truth.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

from smsradar.providers import ADAPTERS
from smsradar.providers.base import WebhookEnvelope
from smsradar.settings import Settings
from smsradar.simulator import SimulationResult
from tests.support.facts import (
    actual_inbound,
    actual_messages,
    expected_inbound,
    expected_messages,
    expected_windows,
)
from tests.support.kafka import read_topics
from tests.support.store import query, store_as_facts, store_windows, wait_for_store

FINAL_STATUSES = frozenset({202, 400, 422})

# The accounting lines of the running test. conftest.py moves them into the test's report,
# which reaches the session's summary from an xdist worker too, and prints them all at the
# end of the run: the counts are the point of a fault test, passed or not.
PENDING_LINES: list[str] = []


@dataclass
class Accounting:
    requests: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    retries: int = 0
    gave_up: int = 0  # posts whose last answer was a connection error or a retried status
    accepted_objects: int = 0  # objects in the bodies answered 202
    published: int = 0  # records on the webhook topics
    published_twice: int = 0  # (request, object) pairs on the webhook topics more than once
    unanswered: int = 0  # records of requests the simulator never got a 202 for
    rejected: int = 0  # requests answered 400 or 422
    dead_lettered: int = 0  # of those, found in the dead-letter topic (once each)
    expected_events: int = 0  # distinct events in the accepted webhooks
    status_event_rows: int = 0
    distinct_status_events: int = 0
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(self.by_status.items()))
        return (
            f"accounting: {self.requests} requests ({statuses}), {self.retries} retries,"
            f" {self.gave_up} given up; {self.accepted_objects} objects accepted,"
            f" {self.published} on the webhook topics ({self.published_twice} twice,"
            f" {self.unanswered} of unanswered requests); {self.dead_lettered}/{self.rejected}"
            f" rejected requests dead-lettered; status_events {self.status_event_rows} rows,"
            f" {self.distinct_status_events} distinct, {self.expected_events} expected"
        )


def account(settings: Settings, result: SimulationResult, timeout_s: float = 120.0) -> Accounting:
    """Wait for the store to settle on the truth, then count everything; see ``problems``."""
    outcomes = result.report.outcomes
    books = Accounting(
        requests=len(outcomes),
        by_status=Counter(o.status for o in outcomes),
        retries=result.report.retries,
        gave_up=sum(1 for o in outcomes if o.status not in FINAL_STATUSES),
    )
    accepted = Counter(
        (o.request_id, index) for o in outcomes if o.status == 202 for index in range(o.objects)
    )
    books.accepted_objects = sum(accepted.values())

    webhook_topics = [
        settings.webhook_topic(adapter.name, kind)
        for adapter in ADAPTERS.values()
        for kind in adapter.kinds
    ]
    records = read_topics(
        settings.bootstrap_servers, webhook_topics, expected=None, timeout_s=timeout_s
    )
    envelopes = [WebhookEnvelope.model_validate_json(record.value) for record in records]
    published = Counter((e.request_id, e.index) for e in envelopes)
    books.published = len(envelopes)
    books.published_twice = sum(1 for n in published.values() if n > 1)
    books.unanswered = sum(n for key, n in published.items() if key not in accepted)
    lost = [key for key in accepted if key not in published]
    if lost:
        books.problems.append(f"{len(lost)} accepted objects not on Kafka, e.g. {lost[:3]}")

    rejected = {o.request_id for o in outcomes if o.status in (400, 422)}
    books.rejected = len(rejected)
    dead = read_topics(
        settings.bootstrap_servers, [settings.deadletter_topic], expected=None, timeout_s=30
    )
    dead_ids: Counter[str | None] = Counter(
        r.headers["request_id"].decode() for r in dead if "request_id" in r.headers
    )
    books.dead_lettered = sum(1 for request_id in rejected if dead_ids[request_id] == 1)

    accepted_events = _event_ids(
        settings, [e for e in envelopes if (e.request_id, e.index) in accepted]
    )
    all_events = _event_ids(settings, envelopes)
    books.expected_events = len(accepted_events)
    if all_events != accepted_events:
        # A request the receiver published but never answered was retried: same events.
        books.problems.append(
            f"{len(all_events - accepted_events)} events on Kafka from unanswered requests only"
        )

    wait_for_store(settings, result.messages, timeout_s)
    stored = [row["event_id"] for row in query(settings, "SELECT event_id FROM status_events")]
    stored_ids = set(stored)
    books.status_event_rows, books.distinct_status_events = len(stored), len(stored_ids)
    if stored_ids != accepted_events:
        books.problems.append(
            f"status_events: {len(accepted_events - stored_ids)} accepted events missing,"
            f" {len(stored_ids - accepted_events)} not accepted"
        )
    truth_events = sum(m.events for m in result.messages) + len(result.inbound)
    if books.status_event_rows != truth_events:
        books.problems.append(f"status_events rows {books.status_event_rows} != {truth_events}")
    facts = store_as_facts(settings)
    if actual_messages(facts) != expected_messages(result.messages):
        books.problems.append("messages differ from the truth")
    if actual_inbound(facts) != expected_inbound(result.inbound):
        books.problems.append("inbound_messages differ from the truth")
    if store_windows(settings) != expected_windows(result.messages, settings.failure_window_s):
        books.problems.append("failure_rates differ from the truth")
    return books


def assert_exact(books: Accounting) -> None:
    """Fail with the accounting line unless every count is exactly as promised."""
    problems = list(books.problems)
    if books.gave_up:
        problems.append(f"{books.gave_up} posts given up by the simulator")
    if books.published_twice:
        problems.append(f"{books.published_twice} objects published twice")
    if books.dead_lettered != books.rejected:
        problems.append(f"{books.rejected - books.dead_lettered} rejections not dead-lettered")
    if books.status_event_rows != books.distinct_status_events:
        problems.append("duplicate rows in status_events")
    if set(books.by_status) - FINAL_STATUSES:
        problems.append(f"final answers other than 202/400/422: {dict(books.by_status)}")
    test = os.environ.get("PYTEST_CURRENT_TEST", "").removesuffix(" (call)")
    PENDING_LINES.append(
        f"{test}: {books.line()}" + (f"; PROBLEMS: {problems}" if problems else "")
    )
    assert not problems, f"{books.line()}\nproblems: {problems}"


def _event_ids(settings: Settings, envelopes: list[WebhookEnvelope]) -> set[str]:
    """The distinct event ids the adapters make of these webhooks (as the worker does)."""
    ids: set[str] = set()
    for envelope in envelopes:
        adapter = ADAPTERS[envelope.provider]
        zone = settings.timezone_for(envelope.provider)
        ids.update(event.event_id for event in adapter.normalize(envelope, zone))
    return ids
