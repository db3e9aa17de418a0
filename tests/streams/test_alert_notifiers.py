"""Notifications to a real local HTTP server: once per alert state, retried through 500s."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from smsradar.facts import AlertFact
from streams.alerting.notifiers import Notifications
from streams.alerting.rules import Notifier
from streams.topics import dump
from tests.support.notification_target import NotificationTarget


@pytest.fixture
def target(request: pytest.FixtureRequest) -> Iterator[NotificationTarget]:
    server = NotificationTarget(getattr(request, "param", 0))
    yield server
    server.close()


def alert(state: str) -> AlertFact:
    started = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    return AlertFact(
        alert_id="a1b2c3",
        rule="device-failure-spike",
        dimension="device",
        dimension_value="1004",
        state=state,
        started_at=started,
        resolved_at=started.replace(minute=20) if state == "resolved" else None,
        failure_rate=0.6,
        baseline_rate=0.03,
        total=60,
        message="device 1004: failure rate 60.0% over 60 outcomes in 5 min, baseline 3.0%",
        fired_at=started.replace(minute=3),
        peak_failure_rate=0.65,
    )


def notify(kind: str, url: str, facts: list[AlertFact], ledger: dict[str, str]) -> None:
    async def main() -> None:
        notifications = Notifications(
            (Notifier(type=kind, url=url, backoff_s=0.01, max_attempts=5),),
            ledger,
        )
        try:
            for fact in facts:
                await notifications.handle(dump(fact))
        finally:
            await notifications.close()

    asyncio.run(main())


@pytest.mark.parametrize("target", [0, 3], indirect=True, ids=["healthy", "500-three-times"])
def test_one_payload_per_state_also_through_500s_and_repeats(target: NotificationTarget) -> None:
    ledger: dict[str, str] = {}
    firing, resolved = alert("firing"), alert("resolved")
    # a replay re-emits facts; a stale firing after the resolve is no news either
    notify("webhook", target.url, [firing, firing, resolved, resolved, firing], ledger)
    states = [(payload["state"], key) for payload, key in target.received]
    assert states == [("firing", "a1b2c3:firing"), ("resolved", "a1b2c3:resolved")]
    assert target.attempts == len(states) + target.failures
    payload = target.received[0][0]
    assert payload["source"] == "smsradar" and payload["dimension_value"] == "1004"
    assert payload["failure_rate"] == 0.6 and payload["baseline_rate"] == 0.03
    assert ledger == {"a1b2c3": "resolved"}


def test_the_ledger_outlives_the_notifier(target: NotificationTarget) -> None:
    """A restarted worker recovers the ledger (a Faust table): nothing is sent twice."""
    ledger: dict[str, str] = {}
    notify("webhook", target.url, [alert("firing")], ledger)
    notify("webhook", target.url, [alert("firing"), alert("resolved")], dict(ledger))
    assert [payload["state"] for payload, _ in target.received] == ["firing", "resolved"]


def test_slack_payload_is_a_text_message(target: NotificationTarget) -> None:
    notify("slack", target.url, [alert("firing")], {})
    ((payload, _),) = target.received
    assert set(payload) == {"text"}
    assert "FIRING" in payload["text"] and "device 1004" in payload["text"]


@pytest.mark.parametrize("target", [100], indirect=True, ids=["always-500"])
def test_a_target_that_never_answers_is_given_up_and_logged(
    target: NotificationTarget, caplog: pytest.LogCaptureFixture
) -> None:
    ledger: dict[str, str] = {}
    notify("webhook", target.url, [alert("firing")], ledger)
    assert target.attempts == 5 and target.received == []
    assert "giving up" in caplog.text
    assert target.url not in caplog.text  # a Slack URL is a secret
    assert ledger == {"a1b2c3": "firing"}  # given up is final: no storm of retries later
