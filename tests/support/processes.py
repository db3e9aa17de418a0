"""Start smsradar commands as real processes and always stop them (by PID, never by name)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

# A worker stopped while it joins its group first waits for the join to end (aiokafka lets
# it finish): a worker restarted into its group and stopped mid-start took up to 14.4 s to
# exit cleanly on Tansu (1.7 s on Kafka; the worker's session timeout is 10 s). A clean
# stop must not be taken for a hang.
STOP_TIMEOUT_S = 30.0
# Every process started in this session, so a failed test's report can show their logs.
STARTED: list[ManagedProcess] = []
# Lines worth showing first: tracebacks, and errors in Faust's format and in ours (text).
NOTABLE = ("Traceback", "ERROR", "CRITICAL", "crashed", "Exception")


class ManagedProcess:
    def __init__(self, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.argv = argv
        self.log_path = log_path
        STARTED.append(self)
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            argv, env={**os.environ, **env}, stdout=self._log, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_until(self, check: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not check():
            if self.process.poll() is not None:
                raise AssertionError(
                    f"{what}: process exited with {self.process.returncode}\n{self.output()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not after {timeout_s}s\n{self.output()}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = STOP_TIMEOUT_S) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


def log_digest(process: ManagedProcess, tail: int = 25, notable: int = 40) -> str:
    """A process's notable lines (errors, tracebacks) and its last lines, for a failure report."""
    try:
        lines = process.log_path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"(log unreadable: {exc})"
    flagged = [
        line
        for line in lines
        if any(word in line for word in NOTABLE) or line.startswith(("error", "critical"))
    ]
    header = f"exit code: {process.process.poll()}; {len(lines)} lines; notable (first {notable}):"
    return "\n".join([header, *flagged[:notable], f"last {tail}:", *lines[-tail:]])


def smsradar_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "smsradar", *args]


def wait_for(check: Callable[[], object], timeout_s: float, what: str) -> None:
    """Poll ``check`` until it is true; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s:.0f} s"
        time.sleep(0.1)


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False
