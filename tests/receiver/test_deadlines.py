"""One timer for many blocks' time limits, with asyncio.timeout's semantics."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from receiver.deadlines import Deadlines

RESOLUTION_S = 0.02


T = TypeVar("T")


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coroutine, 10))


def test_a_block_past_its_limit_ends_with_timeout_error_no_earlier_than_the_limit() -> None:
    async def scenario() -> float:
        deadlines = Deadlines(RESOLUTION_S)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(TimeoutError), deadlines.limit(0.1):
            await asyncio.sleep(5)
        elapsed_s = loop.time() - started
        await asyncio.sleep(RESOLUTION_S * 3)
        assert not deadlines.armed  # nothing open: no timer left behind
        return elapsed_s

    elapsed_s = _run(scenario())
    assert 0.1 <= elapsed_s < 3  # generous: a loaded CI machine is slow, never early


def test_a_block_within_its_limit_is_untouched_and_disarms_the_timer() -> None:
    async def scenario() -> None:
        deadlines = Deadlines(RESOLUTION_S)
        with deadlines.limit(5):
            await asyncio.sleep(0.05)
            assert deadlines.armed
        await asyncio.sleep(RESOLUTION_S * 3)
        assert not deadlines.armed
        assert asyncio.current_task().cancelling() == 0

    _run(scenario())


def test_many_concurrent_blocks_each_end_by_their_own_limit() -> None:
    async def block(deadlines: Deadlines, limit_s: float, work_s: float) -> str:
        try:
            with deadlines.limit(limit_s):
                await asyncio.sleep(work_s)
        except TimeoutError:
            return "timed out"
        return "done"

    async def scenario() -> list[str]:
        deadlines = Deadlines(RESOLUTION_S)
        return await asyncio.gather(
            *(block(deadlines, 0.1, 5) for _ in range(50)),
            *(block(deadlines, 5, 0.01) for _ in range(50)),
        )

    assert _run(scenario()) == ["timed out"] * 50 + ["done"] * 50


def test_a_cancellation_from_elsewhere_stays_a_cancellation() -> None:
    async def scenario() -> None:
        deadlines = Deadlines(RESOLUTION_S)

        async def limited() -> None:
            with deadlines.limit(5):
                await asyncio.sleep(5)

        task = asyncio.create_task(limited())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    _run(scenario())


def test_nested_blocks_the_inner_limit_ends_the_inner_block_only() -> None:
    async def scenario() -> str:
        deadlines = Deadlines(RESOLUTION_S)
        with deadlines.limit(5):
            try:
                with deadlines.limit(0.05):
                    await asyncio.sleep(5)
            except TimeoutError:
                pass
            await asyncio.sleep(0.1)  # the outer block goes on, uncancelled
            return "outer finished"

    assert _run(scenario()) == "outer finished"


def test_outside_a_task_it_refuses() -> None:
    with pytest.raises(RuntimeError):
        Deadlines().limit(1).__enter__()
