"""Exclusive, non-blocking locks for commands that must not run twice at once.

The publisher's commands (``nodekeeper release ...``) and the mirror lock
their repository for one command. POSIX locks with ``flock`` (a directory
can be locked itself); Windows has neither ``flock`` nor open directories,
so it locks the first byte of a lock file with ``msvcrt.locking``. Both
locks belong to the open file and end when it is closed, so a crashed
command never leaves the repository locked. Nothing here decides what to
lock or what to tell the user when it is taken: callers do.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

# What a directory lock opens on Windows, inside the directory.
WINDOWS_DIRECTORY_LOCK = ".lock"


class HeldLock:
    """A lock this process holds until :meth:`release` (closing the file releases it)."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def lock_fd(fd: int) -> bool:
    """Lock the open file ``fd`` exclusively; False when another holder has it."""
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:  # EACCES: another handle holds the byte
            return False
        return True
    else:
        import fcntl

        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def lock_file(path: Path, *, lock: Callable[[int], bool] = lock_fd) -> HeldLock | None:
    """Create ``path`` if needed and lock it; None when another process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    return _held(fd, lock)


def lock_directory(directory: Path, *, lock: Callable[[int], bool] = lock_fd) -> HeldLock | None:
    """Lock ``directory`` (on Windows through its ``.lock`` file); None when it is taken."""
    if sys.platform == "win32":
        return lock_file(directory / WINDOWS_DIRECTORY_LOCK, lock=lock)
    else:
        return _held(os.open(directory, os.O_RDONLY), lock)


def _held(fd: int, lock: Callable[[int], bool]) -> HeldLock | None:
    try:
        taken = lock(fd)
    except BaseException:
        os.close(fd)
        raise
    if not taken:
        os.close(fd)
        return None
    return HeldLock(fd)
