"""The spike detector (streams.alerting.detector) on window sequences with known truth."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from smsradar.facts import AlertFact, FailureRateFact
from streams.alerting.detector import SeriesDetector, SeriesState, wilson_lower
from streams.alerting.rules import Rule, default_rules

WINDOW_S = 60
T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
DEVICE_RULE = next(rule for rule in default_rules() if rule.dimension == "device")


@dataclass(frozen=True)
class Phase:
    minutes: int
    per_minute: int  # decided outcomes per minute
    failure_rate: float


def updates(phases: list[Phase], seed: int, partitions: int = 2) -> Iterator[FailureRateFact]:
    """One fact per outcome, as the join stage emits them: a partition's running counts
    of the window the outcome falls in."""
    rng = random.Random(seed)
    minute = 0
    for phase in phases:
        for _ in range(phase.minutes):
            start = T0 + timedelta(minutes=minute)
            counts = {p: [0, 0] for p in range(partitions)}
            for _ in range(phase.per_minute):
                partition = rng.randrange(partitions)
                counts[partition][rng.random() < phase.failure_rate] += 1
                delivered, failed = counts[partition]
                yield FailureRateFact(
                    window_start=start,
                    window_end=start + timedelta(seconds=WINDOW_S),
                    dimension="device",
                    dimension_value="1004",
                    partition=partition,
                    delivered=delivered,
                    failed=failed,
                    unknown=0,
                    total=delivered + failed,
                    failure_rate=failed / (delivered + failed),
                )
            minute += 1


def run(phases: list[Phase], seed: int = 1, rule: Rule = DEVICE_RULE) -> list[AlertFact]:
    detector = SeriesDetector(rule, WINDOW_S, SeriesState())
    alerts: list[AlertFact] = []
    for offset, fact in enumerate(updates(phases, seed)):
        alerts += detector.observe(fact, offset)
    return alerts


def test_wilson_lower_bound_weighs_volume() -> None:
    # 2 of 3 failed proves little: not even above a 3% baseline plus the minimum increase
    assert wilson_lower(2, 3, 3.09) == pytest.approx(0.110, abs=0.001)
    assert wilson_lower(2, 3, 3.09) < 0.03 + DEVICE_RULE.min_increase
    assert wilson_lower(800, 2000, 3.09) == pytest.approx(0.366, abs=0.002)
    assert wilson_lower(0, 0, 3.09) == 0.0


def window_of(minute: int, delivered: int, failed: int) -> FailureRateFact:
    start = T0 + timedelta(minutes=minute)
    return FailureRateFact(
        window_start=start,
        window_end=start + timedelta(seconds=WINDOW_S),
        dimension="device",
        dimension_value="1004",
        partition=0,
        delivered=delivered,
        failed=failed,
        unknown=0,
        total=delivered + failed,
        failure_rate=failed / (delivered + failed),
    )


@pytest.mark.parametrize(
    ("delivered", "failed", "spiking"), [(1, 2, False), (1200, 800, True), (1900, 100, False)]
)
def test_the_spike_test_weighs_volume(delivered: int, failed: int, spiking: bool) -> None:
    detector = SeriesDetector(
        DEVICE_RULE.model_copy(update={"min_volume": 1}), WINDOW_S, SeriesState()
    )
    for minute in range(60):  # an hour at 3% teaches the baseline
        detector.observe(window_of(minute, 97, 3), minute)
    detector.observe(window_of(60, delivered, failed), 60)
    verdict = detector.verdict()
    assert verdict.baseline == pytest.approx(0.03, abs=0.005)
    assert verdict.spiking is spiking, verdict


@pytest.mark.parametrize("per_minute", [6, 12, 50])
@pytest.mark.parametrize("seed", range(3))
def test_spike_fires_once_within_window_plus_for_and_resolves_after_it_ends(
    per_minute: int, seed: int
) -> None:
    phases = [Phase(60, per_minute, 0.03), Phase(10, per_minute, 0.6), Phase(40, per_minute, 0.03)]
    alerts = run(phases, seed)
    assert [alert.state for alert in alerts] == ["firing", "resolved"]
    firing, resolved = alerts
    assert firing.alert_id == resolved.alert_id
    spike_start, spike_end = T0 + timedelta(minutes=60), T0 + timedelta(minutes=70)
    delay = firing.fired_at - spike_start
    assert timedelta(0) < delay <= timedelta(seconds=DEVICE_RULE.window_s + DEVICE_RULE.for_s)
    assert spike_start <= firing.started_at < firing.fired_at
    assert firing.failure_rate is not None and firing.failure_rate > 0.3
    assert firing.baseline_rate is not None and firing.baseline_rate < 0.06
    assert resolved.resolved_at is not None and resolved.resolved_at > spike_end
    assert resolved.peak_failure_rate is not None and resolved.peak_failure_rate >= 0.4
    print(f"detection delay {delay.total_seconds():.0f} s, resolved {resolved.resolved_at}")


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(
    ("per_minute", "failure_rate"),
    [(3, 0.03), (12, 0.03), (12, 0.12), (50, 0.06), (200, 0.09), (400, 0.2)],
)
def test_two_hours_of_noise_fire_nothing(per_minute: int, failure_rate: float, seed: int) -> None:
    assert run([Phase(120, per_minute, failure_rate)], seed) == []


def test_a_burst_shorter_than_for_is_no_alert() -> None:
    assert run([Phase(60, 12, 0.03), Phase(1, 12, 0.9), Phase(30, 12, 0.03)]) == []


def test_ceiling_fires_whatever_the_baseline() -> None:
    # A series that has always failed a lot: its baseline is high, the ceiling still holds.
    alerts = run([Phase(120, 30, 0.35), Phase(10, 30, 0.75), Phase(30, 30, 0.35)])
    assert [alert.state for alert in alerts] == ["firing", "resolved"]


def test_no_new_alert_within_cooldown_of_a_resolve() -> None:
    spike, calm = Phase(8, 12, 0.7), Phase(1, 12, 0.03)
    # resolves about 5 minutes after the first spike; the second starts 1 minute later
    alerts = run([Phase(60, 12, 0.03), spike, Phase(6, 12, 0.0), calm, spike, Phase(40, 12, 0)])
    assert [alert.state for alert in alerts].count("firing") == 1


def test_replay_from_any_offset_changes_nothing_and_re_emits_only_the_last_alert() -> None:
    facts = list(updates([Phase(60, 12, 0.03), Phase(10, 12, 0.6), Phase(5, 12, 0.03)], 3))
    detector = SeriesDetector(DEVICE_RULE, WINDOW_S, SeriesState())
    emitted = [(offset, detector.observe(fact, offset)) for offset, fact in enumerate(facts)]
    alerts = [(offset, alert) for offset, found in emitted for alert in found]
    assert [alert.state for _, alert in alerts] == ["firing"]
    final = detector.state.to_json()
    for replay_from in (0, alerts[0][0], len(facts) - 3):
        replayed = SeriesDetector(DEVICE_RULE, WINDOW_S, SeriesState.from_json(final))
        again = [
            alert
            for offset in range(replay_from, len(facts))
            for alert in replayed.observe(facts[offset], offset)
        ]
        expected = [alerts[0][1]] if replay_from <= alerts[0][0] else []
        assert again == expected
        assert replayed.state.to_json() == final


def test_state_survives_its_json_round_trip() -> None:
    detector = SeriesDetector(DEVICE_RULE, WINDOW_S, SeriesState())
    for offset, fact in enumerate(updates([Phase(30, 12, 0.03), Phase(3, 12, 0.7)], 4)):
        detector.observe(fact, offset)
        restored = SeriesState.from_json(detector.state.to_json())
        assert restored.to_json() == detector.state.to_json()


@pytest.mark.xfail(
    strict=True,
    reason="the series' clock is the newest window of any partition: a backlog read one"
    " partition after the other moves it past the spike before the other partitions' windows"
    " of it arrive, and observe() drops those as too late, so nothing fires (seen once in"
    " tests/streams/test_alerting_pipeline.py with a lagging worker)",
)
@pytest.mark.parametrize("seed", range(3))
def test_a_backlog_read_one_partition_after_another_fires_as_read_in_order(seed: int) -> None:
    phases = [Phase(60, 6, 0.03), Phase(10, 6, 0.6), Phase(40, 6, 0.03)]
    in_order = list(updates(phases, seed, partitions=4))
    # each partition's updates in their order, partition after partition
    by_partition = sorted(in_order, key=lambda fact: fact.partition)
    detector = SeriesDetector(DEVICE_RULE, WINDOW_S, SeriesState())
    alerts = [a for offset, f in enumerate(by_partition) for a in detector.observe(f, offset)]
    assert [alert.state for alert in alerts] == ["firing", "resolved"]
