"""The standby of core/logs/standby.py on Linux: the writer thread waits in an epoll set.

Its wake-up is an eventfd; a pipe whose reader writes to disk is in the set
one-shot, so that the node writing more while that write hangs wakes the
writer thread to read the pipe on the reader's behalf.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys

from nodekeeper.core.logs.standby import Pipe

assert sys.platform == "linux", "nodekeeper.core.logs.standby_linux is for Linux"


class EpollStandby:
    """The writer thread's wait: for queued lines, or for an armed pipe to need reading."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._wake_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._epoll.register(self._wake_fd, select.EPOLLIN)
        self._pipes: dict[int, Pipe] = {}
        self._closed = False  # callers hold the writer's lock for close and wake

    def arm(self, pipe: Pipe) -> None:
        """The pipe's reader starts a write: wake the writer thread if the node writes more."""
        self._pipes[pipe.fd] = pipe
        self._epoll.register(pipe.fd, select.EPOLLIN | select.EPOLLONESHOT)

    def rearm(self, pipe: Pipe) -> None:
        """Watch the pipe again after a rescue (never re-adds one its reader disarmed)."""
        with contextlib.suppress(OSError, ValueError):
            self._epoll.modify(pipe.fd, select.EPOLLIN | select.EPOLLONESHOT)

    def disarm(self, pipe: Pipe) -> None:
        with contextlib.suppress(OSError, ValueError):  # ValueError: closed with the writer
            self._epoll.unregister(pipe.fd)

    def wake(self) -> None:
        """Lines were queued (or the writer closes): end the writer thread's wait."""
        if self._closed:
            return
        with contextlib.suppress(BlockingIOError):
            os.eventfd_write(self._wake_fd, 1)

    def wait(self) -> list[Pipe]:
        """Block until woken; returns the armed pipes that became readable."""
        while True:
            try:
                events = self._epoll.poll()
                break
            except InterruptedError:
                continue
        ready = []
        for fd, _mask in events:
            if fd == self._wake_fd:
                with contextlib.suppress(BlockingIOError):
                    os.eventfd_read(self._wake_fd)
            elif (pipe := self._pipes.get(fd)) is not None:
                ready.append(pipe)
        return ready

    def close(self) -> None:
        self._closed = True
        self._epoll.close()
        os.close(self._wake_fd)
