"""``smsradar up``: run the parts as child processes of one tree and stop them in order.

Children run in their own session so a terminal's Ctrl-C reaches only this supervisor,
which then stops them newest-first (receiver before broker, so no write is refused
mid-flight). Each child also gets SIGTERM if the supervisor itself dies.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """preexec_fn: the child gets SIGTERM when its parent dies (Linux)."""
    if sys.platform == "linux":
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class SupervisorError(RuntimeError):
    pass


@dataclass
class Child:
    name: str
    argv: Sequence[str]
    ready: Callable[[], bool]  # polled until true after start
    env: dict[str, str] = field(default_factory=dict)
    ready_timeout_s: float = 60.0
    process: subprocess.Popen[bytes] | None = None


class Supervisor:
    def __init__(self) -> None:
        self.children: list[Child] = []
        self._stop = threading.Event()

    def start(self, child: Child) -> None:
        child.process = subprocess.Popen(
            list(child.argv),
            env={**os.environ, **child.env},
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        self.children.append(child)
        deadline = time.monotonic() + child.ready_timeout_s
        while not child.ready():
            if child.process.poll() is not None:
                raise SupervisorError(f"{child.name} exited with {child.process.returncode}")
            if time.monotonic() > deadline or self._stop.is_set():
                raise SupervisorError(f"{child.name} not ready after {child.ready_timeout_s}s")
            time.sleep(0.1)

    def request_stop(self, *_: object) -> None:
        self._stop.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGTERM, self.request_stop)

    def wait(self, optional: Sequence[str] = ()) -> int:
        """Block until a stop signal (exit 0) or a child's unexpected exit (exit 1).

        A child named in ``optional`` (e.g. a simulator with a duration) may finish alone.
        """
        while not self._stop.wait(0.5):
            for child in self.children:
                assert child.process is not None
                code = child.process.poll()
                if code is None:
                    continue
                if child.name in optional and code == 0:
                    log.info("%s finished", child.name)
                    self.children.remove(child)
                    break
                log.error("%s exited unexpectedly with %s; stopping", child.name, code)
                return 1
        return 0

    def stop_all(self, timeout_s: float = 15.0) -> None:
        for child in reversed(self.children):
            process = child.process
            if process is None or process.poll() is not None:
                continue
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %ss; killing it", child.name, timeout_s)
                process.kill()
                process.wait()
        self.children.clear()
