"""The node's output pipes as a later core finds them again.

On Linux the node keeps a copy of the read end of its stdout and stderr
pipes (at the same fd numbers as in the core that started it). Nothing in
the node reads them; they only keep the pipes alive when the core is gone,
so that the node's writes wait in the pipe instead of failing, and so that
the next core can open the very same pipes through ``/proc/<pid>/fd/<n>``
and read on where the previous one stopped. Elsewhere a pipe cannot be
reopened: a node left by a previous core is stopped and started again.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class NodePipes:
    """One run's pipes: the write ends become the node's stdout and stderr; the read ends
    are the core's, and the node keeps copies of them where :func:`can_reopen`."""

    stdout_w: int
    stderr_w: int
    read_ends: tuple[int, int]  # stdout, stderr
    inodes: tuple[int, int]


@dataclass(frozen=True)
class PipeRecord:
    """Where a later core finds one pipe: the node's fd number and the pipe's inode."""

    stream: str  # "stdout" | "stderr"
    fd: int
    inode: int

    def to_dict(self) -> dict[str, object]:
        return {"stream": self.stream, "fd": self.fd, "inode": self.inode}

    @classmethod
    def from_dict(cls, data: object) -> PipeRecord:
        if not isinstance(data, dict):
            raise ValueError("a pipe record must be an object")
        stream, fd, inode = data.get("stream"), data.get("fd"), data.get("inode")
        if stream not in ("stdout", "stderr"):
            raise ValueError(f"pipe stream must be stdout or stderr, got {stream!r}")
        if not isinstance(fd, int) or not isinstance(inode, int) or fd < 0 or inode < 0:
            raise ValueError("pipe fd and inode must be non-negative integers")
        return cls(stream, fd, inode)


def can_reopen() -> bool:
    """True where a pipe held by another process can be opened again (Linux /proc)."""
    return sys.platform.startswith("linux")


def records(pipes: NodePipes) -> tuple[PipeRecord, ...]:
    """What the pid file keeps, for a node that holds ``pipes.read_ends``."""
    if not can_reopen():
        return ()
    return tuple(
        PipeRecord(stream, fd, inode)
        for stream, fd, inode in zip(
            ("stdout", "stderr"), pipes.read_ends, pipes.inodes, strict=True
        )
    )


def reopen(pid: int, record: PipeRecord) -> int | None:
    """A new read fd on the pipe the node ``pid`` holds, or None when it is not there
    (another process, the fd closed, no permission to look)."""
    if sys.platform == "win32":
        return None
    path = f"/proc/{pid}/fd/{record.fd}"
    try:
        if os.readlink(path) != f"pipe:[{record.inode}]":
            return None
        # Non-blocking open: a pipe opened by path behaves as a FIFO.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    with contextlib.suppress(OSError):
        if os.fstat(fd).st_ino == record.inode:
            os.set_blocking(fd, True)
            return fd
    os.close(fd)
    return None
