"""``smsradar simulate``: realistic webhook traffic for every supported gateway, with truth."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from smsradar.simulator.poster import PostConfig, PostReport, post_all
from smsradar.simulator.traffic import (
    Spike,
    TrafficConfig,
    TrafficGenerator,
    parse_spike,
)
from smsradar.simulator.truth import InboundTruth, MessageTruth, write_jsonl


@dataclass
class SimulationResult:
    report: PostReport
    messages: list[MessageTruth]
    inbound: list[InboundTruth]


async def run_async(
    traffic: TrafficConfig,
    posting: PostConfig,
    progress: Callable[[str], None] | None = None,
) -> SimulationResult:
    generator = TrafficGenerator(traffic)
    report = await post_all(generator.webhooks(), posting, progress)
    # Twilio's events are timed by their arrival (its callbacks carry no time).
    generator.apply_arrivals(
        {o.sequence: o.received_at for o in report.outcomes if o.received_at is not None}
    )
    return SimulationResult(report, generator.messages, generator.inbound)


def run(
    traffic: TrafficConfig,
    posting: PostConfig,
    progress: Callable[[str], None] | None = None,
) -> SimulationResult:
    return asyncio.run(run_async(traffic, posting, progress))


__all__ = [
    "InboundTruth",
    "MessageTruth",
    "PostConfig",
    "SimulationResult",
    "Spike",
    "TrafficConfig",
    "parse_spike",
    "run",
    "run_async",
    "write_jsonl",
]
