"""The spike detector of one rule and one dimension value (a "series"): a state machine.

Input: the latest counts of one failure-rate window as seen by one stream partition
(``FailureRateFact``). Output: an ``AlertFact`` when an alert fires or resolves.

The maths, per evaluation (README, Alerting, has a worked example):

- The series' clock is the end of the newest window it has seen (event time).
- The rule's window is the newest window (still filling) and the ``window_s`` of
  windows before it; ``n`` its decided outcomes (delivered + failed), ``k`` the failed
  ones, ``rate = k / n``. Counting the filling window on top keeps ``n`` from dropping
  each time a new window opens.
- The baseline is an exponentially weighted failure rate of the windows that have left
  the rule's window, weighted by volume, half-life ``baseline_half_life_s``, starting
  from ``prior_rate`` weighted as ``prior_weight`` outcomes. Windows seen during a spike
  are left out, so an incident never teaches the baseline that failing is normal.
- Spiking: ``n >= min_volume`` and either the Wilson score lower bound of the rate (at
  ``confidence_z``) is at least ``baseline + min_increase`` (a volume-aware test: 2 of 3
  failed proves little, 800 of 2,000 proves a lot; only once the baseline has learned
  from ``warmup_s`` of history), or ``rate >= ceiling``.
- Recovered: ``n >= min_volume``, ``rate <= baseline + resolve_increase`` and
  ``rate < ceiling``. Below ``min_volume`` nothing changes: no verdict without evidence.
- idle -> pending on a spike (not within ``cooldown_s`` after the last resolve);
  pending -> idle when the spike is gone; pending -> firing once it has lasted ``for_s``;
  firing -> resolved once recovered for ``resolve_for_s``.

Everything is a function of the stored state and the input, so re-applying an input
after a crash changes nothing; the input that produced the last alert fact re-emits it
(its first sending may have been lost with the crash; the notifier drops the repeat).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from smsradar.facts import AlertFact, FailureRateFact
from streams.alerting.rules import Rule

IDLE, PENDING, FIRING = "idle", "pending", "firing"


def wilson_lower(failed: int, decided: int, z: float) -> float:
    """Lower bound of the Wilson score interval of ``failed / decided``."""
    if decided <= 0:
        return 0.0
    p = failed / decided
    z2 = z * z
    centre = p + z2 / (2 * decided)
    margin = z * math.sqrt(p * (1 - p) / decided + z2 / (4 * decided * decided))
    return max(0.0, (centre - margin) / (1 + z2 / decided))


@dataclass(frozen=True)
class Verdict:
    decided: int
    failed: int
    rate: float | None
    baseline: float
    spiking: bool
    recovered: bool


@dataclass
class SeriesState:
    """What the alerting table stores per series; JSON-able through to_json/from_json."""

    applied: int = -1  # input offset last applied
    clock: int = 0  # epoch s: end of the newest window seen
    # window start (epoch s) -> {"parts": {partition: [delivered, failed]}, "spike": bool}
    windows: dict[int, dict[str, Any]] = field(default_factory=dict)
    baseline_failed: float = 0.0
    baseline_decided: float = 0.0
    baseline_at: int | None = None  # epoch s the weights are as of
    history_s: int = 0  # event time the baseline has learned from
    state: str = IDLE
    since: int = 0  # pending: clock when the spike was first seen
    started_at: int = 0  # start of the first spiking window
    fired_at: int = 0
    peak_rate: float = 0.0
    recovered_since: int | None = None
    cooldown_until: int = 0
    last_alert: dict[str, Any] | None = None
    last_alert_offset: int = -1

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["windows"] = {str(start): window for start, window in self.windows.items()}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> SeriesState:
        if data is None:
            return cls()
        state = cls(**{**data, "windows": {}})
        # copies: an in-memory table hands out the stored objects themselves
        state.windows = {
            int(start): {"parts": dict(window["parts"]), "spike": window["spike"]}
            for start, window in data["windows"].items()
        }
        state.last_alert = dict(data["last_alert"]) if data["last_alert"] else None
        return state


class SeriesDetector:
    """Applies inputs of one series to its state; see the module docstring."""

    def __init__(self, rule: Rule, window_s: int, state: SeriesState) -> None:
        self.rule = rule
        self.window_s = window_s
        self.state = state
        # how far back from the clock a window still counts (see the module docstring)
        self.span_s = rule.window_s + window_s

    def observe(self, window: FailureRateFact, offset: int) -> list[AlertFact]:
        state = self.state
        if offset <= state.applied:  # a replay after a crash
            if offset == state.last_alert_offset and state.last_alert is not None:
                return [AlertFact(**state.last_alert)]
            return []
        state.applied = offset
        start = int(window.window_start.timestamp())
        end = start + self.window_s
        if end <= state.clock - self.span_s:
            return []  # left the rule's window and, maybe, the baseline: too late to count
        slot = state.windows.setdefault(start, {"parts": {}, "spike": False})
        slot["parts"][str(window.partition)] = [window.delivered, window.failed]
        state.clock = max(state.clock, end)
        self._fold_into_baseline()
        alerts = self._step(self.verdict(), window)
        if alerts:
            state.last_alert = alerts[-1].model_dump(mode="json")
            state.last_alert_offset = offset
        return alerts

    def baseline(self) -> float:
        state, rule = self.state, self.rule
        prior = rule.prior_rate * rule.prior_weight
        return (state.baseline_failed + prior) / (state.baseline_decided + rule.prior_weight)

    def verdict(self) -> Verdict:
        rule = self.rule
        delivered = failed = 0
        for slot in self.state.windows.values():
            for part_delivered, part_failed in slot["parts"].values():
                delivered += part_delivered
                failed += part_failed
        decided = delivered + failed
        baseline = self.baseline()
        if decided < rule.min_volume:
            rate = failed / decided if decided else None
            return Verdict(decided, failed, rate, baseline, False, False)
        rate = failed / decided
        lower = wilson_lower(failed, decided, rule.confidence_z)
        learned = self.state.history_s >= rule.warmup_s
        spiking = (learned and lower >= baseline + rule.min_increase) or rate >= rule.ceiling
        recovered = rate <= baseline + rule.resolve_increase and rate < rule.ceiling
        return Verdict(decided, failed, rate, baseline, spiking, recovered)

    def _fold_into_baseline(self) -> None:
        state = self.state
        horizon = state.clock - self.span_s
        for start in sorted(state.windows):
            end = start + self.window_s
            if end > horizon:
                break
            slot = state.windows.pop(start)
            if slot["spike"]:
                continue
            if state.baseline_at is not None:
                decay = 0.5 ** (max(0, end - state.baseline_at) / self.rule.baseline_half_life_s)
                state.baseline_failed *= decay
                state.baseline_decided *= decay
            for delivered, failed in slot["parts"].values():
                state.baseline_failed += failed
                state.baseline_decided += delivered + failed
            state.baseline_at = end
            state.history_s += self.window_s

    def _step(self, verdict: Verdict, window: FailureRateFact) -> list[AlertFact]:
        state, rule = self.state, self.rule
        if verdict.spiking or state.state != IDLE:
            for slot in state.windows.values():
                slot["spike"] = True
        if state.state == IDLE and verdict.spiking and state.clock >= state.cooldown_until:
            state.state = PENDING
            state.since = state.clock
            state.started_at = max(state.windows)
        if state.state == PENDING:
            if not verdict.spiking:
                state.state = IDLE
                return []
            if state.clock - state.since < rule.for_s:
                return []
            state.state = FIRING
            state.fired_at = state.clock
            state.peak_rate = verdict.rate or 0.0
            state.recovered_since = None
            return [self._fact(verdict, window, "firing")]
        if state.state != FIRING:
            return []
        if verdict.rate is not None and verdict.decided >= rule.min_volume:
            state.peak_rate = max(state.peak_rate, verdict.rate)
        if not verdict.recovered:
            if verdict.decided >= rule.min_volume:
                state.recovered_since = None
            return []
        if state.recovered_since is None:
            state.recovered_since = state.clock
        if state.clock - state.recovered_since < rule.resolve_for_s:
            return []
        state.state = IDLE
        state.cooldown_until = state.clock + rule.cooldown_s
        return [self._fact(verdict, window, "resolved")]

    def _fact(self, verdict: Verdict, window: FailureRateFact, alert_state: str) -> AlertFact:
        state, rule = self.state, self.rule
        identity = f"{rule.name}|{window.dimension}|{window.dimension_value}|{state.started_at}"
        resolved = alert_state == "resolved"
        rate = verdict.rate or 0.0
        message = (
            f"{rule.dimension} {window.dimension_value}: failure rate {rate:.1%} over"
            f" {verdict.decided} outcomes in {rule.window_s // 60} min, baseline"
            f" {verdict.baseline:.1%}"
        )
        if resolved:
            message += f"; resolved (peak {state.peak_rate:.1%})"
        return AlertFact(
            alert_id=hashlib.sha256(identity.encode()).hexdigest()[:16],
            rule=rule.name,
            dimension=window.dimension,
            dimension_value=window.dimension_value,
            state=alert_state,
            started_at=_at(state.started_at),
            resolved_at=_at(state.clock) if resolved else None,
            failure_rate=verdict.rate,
            baseline_rate=round(verdict.baseline, 6),
            total=verdict.decided,
            message=message,
            fired_at=_at(state.fired_at),
            peak_failure_rate=state.peak_rate,
        )


def _at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)
