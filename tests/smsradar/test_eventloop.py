import asyncio
from collections.abc import Iterator

import pytest
import uvloop

from smsradar.eventloop import use_uvloop


@pytest.fixture
def restored_policy() -> Iterator[None]:
    policy = asyncio.get_event_loop_policy()
    yield
    asyncio.set_event_loop_policy(policy)


def test_new_loops_are_uvloop_loops_after_use_uvloop(restored_policy: None) -> None:
    assert use_uvloop()
    loop = asyncio.new_event_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_asyncio_run_runs_on_uvloop_after_use_uvloop(restored_policy: None) -> None:
    async def running_loop() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    use_uvloop()
    assert isinstance(asyncio.run(running_loop()), uvloop.Loop)
