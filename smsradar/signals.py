"""Stop signals that arrive while a process is still starting, before its loop handles them."""

from __future__ import annotations

import os
import signal
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_received: list[int] = []


class StopRequested(BaseException):
    """SIGINT or SIGTERM arrived before the process's own handlers were in place.

    A BaseException, as KeyboardInterrupt is, so that no ``except Exception`` on the way
    (mode's and Faust's included) takes it for a failure.
    """

    def __init__(self, signum: int) -> None:
        self.signal_name = signal.Signals(signum).name
        super().__init__(self.signal_name)


def raise_on_stop_signals() -> None:
    """Raise StopRequested on SIGINT and SIGTERM until an event loop installs its handlers.

    Without it a worker stopped while it starts (waiting for the broker, say) ends with
    click's "Aborted!" and exit 1 on SIGINT, and is killed by SIGTERM without unwinding.
    ``loop.add_signal_handler`` replaces these handlers.
    """
    _received.clear()
    for signum in STOP_SIGNALS:
        signal.signal(signum, _raise_stop_requested)


def redeliver_swallowed_stop_signal() -> None:
    """Send this process again a stop signal that a running uvloop loop swallowed.

    uvloop runs Python signal handlers inside a callback and only logs what they raise, so
    a signal between the start of its loop and its ``add_signal_handler`` would be lost.
    Called right after the loop's own handlers are installed, which then receive it.
    """
    if _received:
        os.kill(os.getpid(), _received[-1])
        _received.clear()


def _raise_stop_requested(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    raise StopRequested(signum)
