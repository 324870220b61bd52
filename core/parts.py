"""The core's long-running parts, and noticing when one of them ends unexpectedly.

Every part (supervisor, updater, status writer, ...) is an asyncio task that
runs for the core's lifetime. If one dies of an exception, or returns while
nothing asked the core to stop, the core cannot keep its promises any more
(a dead supervisor restarts nothing): the service stops the node and exits
non-zero, and the service manager starts a fresh core.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PartFailure:
    name: str
    error: BaseException | None  # None: the part returned although nothing asked it to

    def describe(self) -> str:
        """One line naming the part and what happened to it."""
        if self.error is None:
            return f"{self.name} ended unexpectedly"
        return f"{self.name} failed: {type(self.error).__name__}: {self.error}"


def failure_of(name: str, task: asyncio.Future[Any], may_return: bool) -> PartFailure | None:
    """What ended ``task`` says about the core: None when that ending is fine."""
    if task.cancelled():
        return PartFailure(name, asyncio.CancelledError())
    error = task.exception()
    if error is not None:
        return PartFailure(name, error)
    return None if may_return else PartFailure(name, None)


async def until_stop_or_failure(
    parts: Mapping[str, asyncio.Future[Any]],
    stop: asyncio.Event,
    *,
    may_return: Collection[str] = (),
) -> PartFailure | None:
    """Wait until ``stop`` is set (None) or a part ends in a way it must not (that part).

    Parts named in ``may_return`` may finish normally (e.g. the systemd
    notifier when not under systemd): they are simply no longer watched.
    """
    watched = dict(parts)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        while True:
            await asyncio.wait({stopper, *watched.values()}, return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                return None
            for name, task in list(watched.items()):
                if not task.done():
                    continue
                failure = failure_of(name, task, name in may_return)
                if failure is not None:
                    return failure
                del watched[name]
    finally:
        stopper.cancel()
