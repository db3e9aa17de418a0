"""Memory of running processes over time: RSS samples, their CSV, and the growth summary."""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean, linear_regression

import psutil

MIB = 1024 * 1024


@dataclass(frozen=True)
class Sample:
    elapsed_s: float  # since the sampler started
    process: str
    pid: int
    rss: int  # bytes
    cpu_s: float  # user + system CPU seconds of the process so far


class RssSampler(threading.Thread):
    """Samples the RSS (and CPU time) of named processes every ``every_s`` until stopped.

    Each process alone, not its children: the receiver, worker, sink and broker have none,
    and the test process (the simulator's) has all of them. A process that has gone stops
    being sampled (``gone`` names it).
    """

    def __init__(self, pids: Mapping[str, int], every_s: float) -> None:
        super().__init__(daemon=True, name="soak-rss-sampler")
        self.processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.every_s = every_s
        self.samples: list[Sample] = []
        self.gone: set[str] = set()
        self.started = time.monotonic()
        self._stop_event = threading.Event()

    def now(self) -> float:
        """Seconds since the sampler started: the time axis of the samples."""
        return time.monotonic() - self.started

    def sample(self) -> None:
        elapsed = self.now()
        for name, process in self.processes.items():
            if name in self.gone:
                continue
            try:
                with process.oneshot():
                    cpu = process.cpu_times()
                    rss = process.memory_info().rss
                    status = process.status()
                if status == psutil.STATUS_ZOMBIE:
                    raise psutil.ZombieProcess(process.pid)
            except psutil.Error:
                self.gone.add(name)
                continue
            self.samples.append(Sample(elapsed, name, process.pid, rss, cpu.user + cpu.system))

    def run(self) -> None:
        self.sample()
        while not self._stop_event.wait(self.every_s):
            self.sample()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        self.sample()  # the final sample

    def write_csv(self, path: Path, phases: Mapping[str, tuple[float, float]]) -> None:
        """One row per sample; ``phase`` names the span of ``phases`` the sample falls in."""
        with path.open("w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(
                ["elapsed_s", "phase", "process", "pid", "rss_bytes", "rss_mib", "cpu_s"]
            )
            for s in self.samples:
                phase = next((p for p, (a, b) in phases.items() if a <= s.elapsed_s < b), "after")
                writer.writerow(
                    [
                        f"{s.elapsed_s:.1f}",
                        phase,
                        s.process,
                        s.pid,
                        s.rss,
                        f"{s.rss / MIB:.1f}",
                        f"{s.cpu_s:.2f}",
                    ]
                )


@dataclass(frozen=True)
class Growth:
    """One process's memory over a run of traffic from ``t0`` to ``t1`` (sampler seconds).

    Two statistics, each compared with itself: the mean RSS over the last quarter of the
    warm-up (the first 20 % of the run) against the mean over the last 20 % of the run
    (``mean_growth``: a leak moves it), and the highest RSS in the same two spans
    (``peak_growth``: a peak that grows counts too). ``growth``, the one judged, is the
    larger. Peak against mean would count a saw-toothing process's tooth (the sink's merges
    come and go, ~20 MiB) as growth although nothing grows; ``slope`` is the least-squares
    trend of RSS after the warm-up (MiB per hour), reported beside them. cpu: the process's
    mean CPU use over the run (100 % = one core).
    """

    process: str
    start: int  # first sample of the run
    warm_mean: float  # over the end of the warm-up
    warm_peak: int
    end_mean: float  # over the end of the run
    end_peak: int
    peak: int  # over the whole run, and the drain after it
    final: int  # the last sample (after the drain)
    samples: int
    cpu_percent: float
    slope: float  # MiB per hour, after the warm-up

    @property
    def growth(self) -> float:
        return max(self.mean_growth, self.peak_growth)

    @property
    def mean_growth(self) -> float:
        return self.end_mean / self.warm_mean - 1

    @property
    def peak_growth(self) -> float:
        return self.end_peak / self.warm_peak - 1

    def row(self) -> dict[str, object]:
        return {
            "process": self.process,
            "start_mib": round(self.start / MIB, 1),
            "warm_mib": round(self.warm_mean / MIB, 1),
            "warm_peak_mib": round(self.warm_peak / MIB, 1),
            "end_mean_mib": round(self.end_mean / MIB, 1),
            "end_mib": round(self.end_peak / MIB, 1),
            "max_mib": round(self.peak / MIB, 1),
            "final_mib": round(self.final / MIB, 1),
            "growth_pct": round(100 * self.growth, 2),
            "mean_growth_pct": round(100 * self.mean_growth, 2),
            "peak_growth_pct": round(100 * self.peak_growth, 2),
            "slope_mib_per_h": round(self.slope, 1),
            "cpu_pct": round(self.cpu_percent, 1),
            "samples": self.samples,
        }


WARM_UP = 0.2  # the first 20 % of the run
WARM_REFERENCE = 0.05  # its last quarter: the reference RSS
END = 0.2  # the last 20 % of the run


def spans(t0: float, t1: float) -> dict[str, tuple[float, float]]:
    """The phases of a run of traffic from ``t0`` to ``t1``, for the CSV and the summary."""
    length = t1 - t0
    return {
        "start": (float("-inf"), t0),
        "warm-up": (t0, t0 + (WARM_UP - WARM_REFERENCE) * length),
        "warm": (t0 + (WARM_UP - WARM_REFERENCE) * length, t0 + WARM_UP * length),
        "steady": (t0 + WARM_UP * length, t1 - END * length),
        "end": (t1 - END * length, t1 + 1e-9),
        "drain": (t1 + 1e-9, float("inf")),
    }


def growth(samples: list[Sample], process: str, t0: float, t1: float) -> Growth:
    mine = [s for s in samples if s.process == process]
    phases = spans(t0, t1)

    def within(phase: str) -> list[Sample]:
        low, high = phases[phase]
        return [s for s in mine if low <= s.elapsed_s < high]

    run = [s for s in mine if t0 <= s.elapsed_s <= t1]
    warm, end = within("warm"), within("end")
    if not run or not warm or not end:
        raise AssertionError(f"{process}: too few RSS samples ({len(mine)}) to judge its growth")
    cpu = 100 * (run[-1].cpu_s - run[0].cpu_s) / max(run[-1].elapsed_s - run[0].elapsed_s, 1e-9)
    steady = [s for s in run if s.elapsed_s >= phases["steady"][0]]
    slope = 0.0
    if len(steady) >= 2:
        fit = linear_regression([s.elapsed_s for s in steady], [s.rss / MIB for s in steady])
        slope = fit.slope * 3600
    return Growth(
        process,
        start=run[0].rss,
        warm_mean=fmean(s.rss for s in warm),
        warm_peak=max(s.rss for s in warm),
        end_peak=max(s.rss for s in end),
        end_mean=fmean(s.rss for s in end),
        peak=max(s.rss for s in mine if s.elapsed_s >= t0),
        final=mine[-1].rss,
        samples=len(mine),
        cpu_percent=cpu,
        slope=slope,
    )
