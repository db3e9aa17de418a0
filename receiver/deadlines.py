"""Time limits on the blocks of many concurrent requests, with one timer for all of them.

``asyncio.timeout`` schedules a timer handle for every block and cancels it after: 3.5 µs
under uvloop, and a receiver request has two limited blocks (reading its body, waiting for
the broker). Here a block only joins a set; one timer, armed while any block is open,
cancels the tasks whose deadline has passed. A limit therefore fires up to
``resolution_s`` late, which is nothing beside seconds-long limits.

Semantics are ``asyncio.timeout``'s: an expired block raises ``TimeoutError`` at its end,
and a cancellation from anywhere else stays a ``CancelledError``.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

DEFAULT_RESOLUTION_S = 0.1


class Deadlines:
    def __init__(self, resolution_s: float = DEFAULT_RESOLUTION_S) -> None:
        self.resolution_s = resolution_s
        self._open: set[Limit] = set()
        self._timer: asyncio.TimerHandle | None = None

    def limit(self, timeout_s: float) -> Limit:
        """``with deadlines.limit(s):`` ends the block with TimeoutError after ``s`` seconds
        (in a task, around its awaits)."""
        return Limit(self, timeout_s)

    @property
    def armed(self) -> bool:
        """Whether a check is scheduled (only while a block is open)."""
        return self._timer is not None

    def _open_block(self, limit: Limit, loop: asyncio.AbstractEventLoop) -> None:
        self._open.add(limit)
        if self._timer is None:
            self._timer = loop.call_later(self.resolution_s, self._check, loop)

    def _close_block(self, limit: Limit) -> None:
        self._open.discard(limit)

    def _check(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for limit in self._open:
            if not limit.expired and limit.expires_at <= now:
                limit.expired = True
                limit.task.cancel()
        self._timer = loop.call_later(self.resolution_s, self._check, loop) if self._open else None


class Limit:
    """One block's deadline (a context manager; see ``Deadlines.limit``)."""

    __slots__ = ("_cancelling", "_deadlines", "_timeout_s", "expired", "expires_at", "task")

    def __init__(self, deadlines: Deadlines, timeout_s: float) -> None:
        self._deadlines = deadlines
        self._timeout_s = timeout_s

    def __enter__(self) -> Limit:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a deadline limits a block of a task")
        loop = task.get_loop()
        self.task = task
        self._cancelling = task.cancelling()
        self.expires_at = loop.time() + self._timeout_s
        self.expired = False
        self._deadlines._open_block(self, loop)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._deadlines._close_block(self)
        # As asyncio.timeout: the cancellation was ours only if no other is pending.
        ours = self.expired and self.task.uncancel() <= self._cancelling
        if ours and exc_type is asyncio.CancelledError:
            raise TimeoutError from exc
