from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Iterator

import pytest
import uvloop

from smsradar.signals import (
    STOP_SIGNALS,
    StopRequested,
    raise_on_stop_signals,
    redeliver_swallowed_stop_signal,
)


@pytest.fixture
def restored_handlers() -> Iterator[None]:
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    yield
    for signum, handler in previous.items():
        signal.signal(signum, handler)


@pytest.mark.parametrize("stop_signal", STOP_SIGNALS, ids=lambda s: s.name)
def test_a_stop_signal_raises_stop_requested_naming_it(
    restored_handlers: None, stop_signal: signal.Signals
) -> None:
    raise_on_stop_signals()
    with pytest.raises(StopRequested, match=stop_signal.name) as raised:
        signal.raise_signal(stop_signal)
    assert raised.value.signal_name == stop_signal.name


async def signal_after_redelivery(timeout_s: float) -> int | None:
    """The SIGTERM a handler installed now receives from the redelivery, or None."""
    loop = asyncio.get_running_loop()
    received: asyncio.Future[int] = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, received.set_result, signal.SIGTERM)
    try:
        redeliver_swallowed_stop_signal()
        return await asyncio.wait_for(received, timeout_s)
    except TimeoutError:
        return None
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def test_a_stop_signal_a_uvloop_loop_swallowed_reaches_the_handler_installed_after(
    restored_handlers: None,
) -> None:
    raise_on_stop_signals()

    async def swallowed_then_redelivered() -> int | None:
        # Sent while the loop waits, so uvloop runs the raising handler in a callback of its
        # own and only logs StopRequested: the window before a worker's loop has handlers.
        threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGTERM)).start()
        await asyncio.sleep(0.5)
        return await signal_after_redelivery(5)

    assert uvloop.run(swallowed_then_redelivered()) == signal.SIGTERM


def test_nothing_is_redelivered_without_a_stop_signal(restored_handlers: None) -> None:
    raise_on_stop_signals()
    assert uvloop.run(signal_after_redelivery(0.2)) is None
