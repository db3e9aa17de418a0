"""The event loop the worker, the sink and the bench load generator run on: uvloop where installed.

The stream worker and the sink spend much of their CPU in the event loop itself (Faust and
aiokafka schedule several callbacks per record); uvloop runs the same asyncio programs with
a loop written in C. Where it is missing (Windows), asyncio's own loop runs them unchanged.
"""

from __future__ import annotations

import asyncio


def use_uvloop() -> bool:
    """Make new event loops of this process uvloop loops; False where uvloop is missing."""
    try:
        import uvloop
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True
