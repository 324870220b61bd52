"""The clock seam: how the supervisor reads the time and waits.

The supervisor never calls ``time.monotonic`` or ``asyncio.sleep`` itself,
so its tests drive a clock of their own and run every timing rule (restart
delays, stop timeouts, health intervals) without waiting for real time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Protocol, TypeVar

T = TypeVar("T")


class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds."""

    async def sleep(self, seconds: float) -> None: ...


class MonotonicClock:
    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def wait_for(clock: Clock, awaitable: Awaitable[T], timeout: float) -> T:
    """``asyncio.wait_for`` on ``clock``: the result, or TimeoutError (and cancel) after ``timeout``."""
    task = asyncio.ensure_future(awaitable)
    timer = asyncio.ensure_future(clock.sleep(timeout))
    try:
        await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        task.cancel()
        raise
    finally:
        timer.cancel()
    if task.done():
        return task.result()
    task.cancel()
    raise TimeoutError
