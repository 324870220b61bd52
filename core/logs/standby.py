"""Linux: the writer thread stands by to read a pipe while that pipe's reader writes itself.

A pipe reader whose lines find the writer idle writes them to disk itself:
one thread wake-up per line of a quiet node instead of two (reader, then
writer). A disk write can hang, though, and the node must never wait on
the disk. So while a reader writes, its pipe is armed here (one-shot, in
the writer thread's epoll set): if the node writes more and the reader's
write is still not done after ``RESCUE_AFTER``, the writer thread reads
that pipe on the reader's behalf, queueing the lines (or dropping them,
counted, once the disk counts as stalled) until the reader is back.
While the reader's write is quick, as it is on a working disk, nothing
wakes the writer thread at all.

Where epoll is missing (macOS, Windows) there is no standby and readers
always hand their lines to the writer thread.
"""

from __future__ import annotations

import os
import select
import sys
import threading
from collections.abc import Callable
from typing import Protocol

RESCUE_AFTER = 0.05


class Pipe:
    """One pipe being read: its read end, and what both of its possible readers share.

    ``lock`` is held for every read and the hand-off of what was read, so lines
    keep their order whichever thread reads them. ``armed`` (changed under the
    writer's lock) says that the reader is writing to disk right now.
    """

    def __init__(self, fd: int, rescue: Callable[[Pipe], None]) -> None:
        self.fd = fd
        self.lock = threading.Lock()
        self.armed = False
        self.armed_at = 0.0
        self.rescue = rescue


class Standby(Protocol):
    """The writer thread's wait: for queued lines, or for an armed pipe to need reading.

    Linux only: core/logs/standby_linux.py (epoll and an eventfd).
    """

    def arm(self, pipe: Pipe) -> None:
        """The pipe's reader starts a write: wake the writer thread if the node writes more."""

    def rearm(self, pipe: Pipe) -> None:
        """Watch the pipe again after a rescue (never re-adds one its reader disarmed)."""

    def disarm(self, pipe: Pipe) -> None: ...

    def wake(self) -> None:
        """Lines were queued (or the writer closes): end the writer thread's wait."""

    def wait(self) -> list[Pipe]:
        """Block until woken; returns the armed pipes that became readable."""
        ...

    def close(self) -> None: ...


def new_standby() -> Standby | None:
    """A standby where the platform has epoll and eventfd (Linux), else None."""
    if sys.platform == "linux":
        if hasattr(select, "epoll") and hasattr(os, "eventfd"):
            from nodekeeper.core.logs.standby_linux import EpollStandby

            return EpollStandby()
    return None
