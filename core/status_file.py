"""``status.json``: the status object kept on disk for scripts that read files, not the socket.

It is rewritten as soon as anything in it changes (:class:`StatusChanges`)
and at least every STATUS_HEARTBEAT seconds. Writing it must never block
the event loop nor stop the core: a failed write is logged and retried on
the next change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nodekeeper.core.events import EventBus
from nodekeeper.core.fsutil import write_atomic

# The core's log lines keep the source name they have always carried.
_log = logging.getLogger("nodekeeper.core.service")

# Only uptime_s and logs.bytes change without an event; a minute-old figure for them
# is enough for a file, and every wake-up of an idle core costs CPU.
STATUS_HEARTBEAT = 60.0
STATUS_SETTLE = 0.05


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    # Rewritten on every change: atomic for readers, not fsync'd.
    write_atomic(path, (json.dumps(data, indent=1) + "\n").encode(), durable=False)


class StatusChanges:
    """Wakes the status-file writer when something it shows has changed.

    Parts call :meth:`touch` (from any thread) on a state change; every
    event on the bus counts as one too.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> asyncio.Event:
        self._loop, self._event = loop, asyncio.Event()
        return self._event

    def touch(self) -> None:
        if self._loop is not None and self._event is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._event.set)


async def write_status_forever(
    status: Callable[[], dict[str, Any]], changes: StatusChanges, bus: EventBus, path: Path
) -> None:
    """Keep ``path`` holding ``status()``, for scripts that read files rather than the socket.

    It is rewritten as soon as anything in it changes, and at least every
    STATUS_HEARTBEAT seconds (for ``uptime_s``); an idle core then does no
    work at all in between.
    """
    loop = asyncio.get_running_loop()
    changed = changes.bind(loop)
    unsubscribe = bus.subscribe(lambda event: changes.touch())
    try:
        while True:
            changed.clear()
            try:
                await loop.run_in_executor(None, write_json_atomic, path, status())
            except OSError as exc:
                _log.debug("cannot write %s: %s", path, exc)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout=STATUS_HEARTBEAT)
            # Changes come in bursts (stop, start, state): take them together.
            await asyncio.sleep(STATUS_SETTLE)
    finally:
        unsubscribe()
