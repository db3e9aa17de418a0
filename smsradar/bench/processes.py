"""Processes of the benchmark groups: started with a log file, stopped by PID, never by name."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from smsradar.settings import Settings


class BenchProcess:
    """One child process; ``stop`` sends SIGINT (or ``sig``), then kills it by PID."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            argv, env={**os.environ, **env}, stdout=self._log, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def wait_until(self, check: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not check():
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name}: exited with {self.process.returncode} before {what}\n"
                    f"{self.output()}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: no {what} after {timeout_s}s\n{self.output()}")
            time.sleep(0.1)

    def stop(self, sig: int = signal.SIGINT, timeout_s: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


def smsradar_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "smsradar", *args]


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def bench_settings(bootstrap: str, data_dir: Path) -> Settings:
    """Settings of one group's run: a fresh topic namespace and consumer groups."""
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    return Settings(
        kafka_bootstrap=bootstrap,
        topic_prefix=prefix,
        app_id=f"{prefix}-streams",
        kafka_idempotence=False,
        data_dir=data_dir,
    )


def process_env(settings: Settings, data_dir: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment of an ``smsradar`` child process running with ``settings``."""
    return {
        "SMSRADAR_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or "",
        "SMSRADAR_KAFKA_IDEMPOTENCE": "false",
        "SMSRADAR_TOPIC_PREFIX": settings.topic_prefix,
        "SMSRADAR_APP_ID": settings.app_id,
        "SMSRADAR_DATA_DIR": str(data_dir or settings.data_dir),
        "SMSRADAR_LOG_LEVEL": "WARNING",
        "SMSRADAR_LOG_FORMAT": "text",
        **extra,
    }


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by linear interpolation, as numpy's default."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
