"""The benchmark groups ``smsradar bench`` runs, with their full and ``--quick`` sizes."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from smsradar.bench import Measurement, progress
from smsradar.bench.alerts import measure_alerts
from smsradar.bench.freshness import measure_freshness
from smsradar.bench.memory import measure_memory
from smsradar.bench.pipeline import measure_pipeline
from smsradar.bench.queries import measure_queries
from smsradar.bench.receiver import measure_receiver


def _queries_full() -> list[Measurement]:
    return [*measure_queries(1_000_000), *measure_queries(10_000_000)]


# group name -> (full run, quick run)
GROUPS: dict[str, tuple[Callable[[], list[Measurement]], Callable[[], list[Measurement]]]] = {
    "pipeline": (lambda: measure_pipeline(messages=20_000), lambda: measure_pipeline(2_000)),
    "queries": (_queries_full, lambda: measure_queries(100_000)),
    "alerts": (lambda: measure_alerts(seeds=5), lambda: measure_alerts(seeds=1)),
    "receiver": (measure_receiver, lambda: measure_receiver(throughput_s=3, latency_s=3)),
    "freshness": (measure_freshness, lambda: measure_freshness(duration_s=4)),
    # the 1,000,000 in flight: the worker consumes them in 12-21 min here (2 shared cores)
    "memory": (measure_memory, lambda: measure_memory(messages=5_000)),
}


def run(quick: bool, only: tuple[str, ...]) -> Iterator[Measurement]:
    for name in only:
        full, small = GROUPS[name]
        progress(f"bench: {name}{' (quick)' if quick else ''}")
        yield from (small if quick else full)()
