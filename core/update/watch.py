"""Watching the event bus for a reason to fail probation, while the updater waits.

The verdict on each event is the pure :func:`probation.failure_of`; this
is the small asyncio shell that turns the first failing event (published
from any thread) into a cancelled wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TypeVar

from nodekeeper.core.events import Event, EventBus
from nodekeeper.core.update import probation

T = TypeVar("T")


class ProbationWatch:
    """``with ProbationWatch(bus) as watch``: ``watch.failure`` is the first failure seen."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._loop = asyncio.get_running_loop()
        self._failed = asyncio.Event()
        self.failure: str | None = None
        self._unsubscribe: Callable[[], None] = _nothing

    def __enter__(self) -> ProbationWatch:
        self._unsubscribe = self._bus.subscribe(self._see)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._unsubscribe()

    def _see(self, event: Event) -> None:
        found = probation.failure_of(event.kind, event.data)
        if found is not None:
            self._loop.call_soon_threadsafe(self._fail_once, found)

    def _fail_once(self, message: str) -> None:
        if self.failure is None:
            self.failure = message
            self._failed.set()

    async def unless_failed(self, work: Awaitable[T]) -> T | None:
        """``work``'s result, or None as soon as a failure is seen (``work`` is then cancelled)."""
        task = asyncio.ensure_future(work)
        waiter = asyncio.ensure_future(self._failed.wait())
        try:
            await asyncio.wait((task, waiter), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pending in (task, waiter):
                pending.cancel()
        if self._failed.is_set() or task.cancelled():
            return None
        return task.result()


def _nothing() -> None:
    pass
