"""The platform seam: every OS side effect of process control goes here.

The supervisor never calls ``os.kill``, ``fcntl`` or Win32 directly; it asks
a :class:`Platform`. POSIX (Linux, macOS) and Windows implementations live
beside this file; tests of pure logic can substitute their own.
"""

from __future__ import annotations

import abc
import asyncio
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from nodekeeper.core.config import LimitsConfig

ProcessStatus = Literal["running", "stopped", "zombie", "gone"]


@dataclass(frozen=True)
class ProcessIdentity:
    """What tells one process apart from a later one that reuses its pid."""

    pid: int
    create_time: float
    group: int  # POSIX process group id; on Windows the pid of the job's first process


@dataclass(frozen=True)
class SpawnRequest:
    argv: Sequence[str]
    env: Mapping[str, str]
    cwd: Path | None
    stdout: int | None
    stderr: int | None
    limits: LimitsConfig
    # A name for per-node OS objects (cgroup, job object): the instance name.
    name: str
    # POSIX: run the node as this user (and its groups) or group; None: as the core.
    user: str | None = None
    group: str | None = None
    # Our fds the node keeps at the same numbers: its own pipes' read ends (core/platform/pipes.py).
    keep_fds: tuple[int, ...] = ()
    # POSIX: the read end of a pipe the node waits on before it execs: it runs only once the
    # core wrote a line there (after recording its pid), and never if the core dies first.
    barrier: int | None = None


class DataDirLock(abc.ABC):
    @abc.abstractmethod
    def release(self) -> None: ...

    def fd(self) -> int | None:
        """The lock's file descriptor, for handing it to an exec'd core (POSIX)."""
        return None


class Platform(abc.ABC):
    """Process control for one OS family."""

    name: str

    @abc.abstractmethod
    def spawn(self, request: SpawnRequest) -> subprocess.Popen[bytes]:
        """Start the node in its own group (its own job on Windows)."""

    @abc.abstractmethod
    def enforced_by(self, limits: LimitsConfig) -> str:
        """How the limits of the running node are enforced: cgroup, job-object, watchdog, none."""

    @abc.abstractmethod
    def identity(self, pid: int) -> ProcessIdentity | None:
        """The identity of a live process, or None when no such process exists."""

    @abc.abstractmethod
    def status(self, pid: int) -> ProcessStatus: ...

    @abc.abstractmethod
    def send_stop(self, ident: ProcessIdentity, signal_name: str) -> None:
        """Ask the node to stop (POSIX signal / Windows console event)."""

    @abc.abstractmethod
    def kill_tree(self, ident: ProcessIdentity) -> int:
        """Kill the node and every process of its group or job; return how many were signalled."""

    @abc.abstractmethod
    def group_members(self, ident: ProcessIdentity) -> list[int]:
        """Live processes that belong to the node's group or job (the leader included)."""

    @abc.abstractmethod
    def lock_data_dir(self, path: Path, inherited: str | None = None) -> DataDirLock:
        """Take the exclusive lock on the data dir, or raise AlreadyRunning.

        ``inherited``: the fd (as text) of this lock that the core which exec'd
        this process held; kept when it really is that lock (POSIX).
        """

    async def wait_exit(self, popen: subprocess.Popen[bytes]) -> int | None:
        """The process's return code, as soon as it has exited.

        A thread of its own per process waits for it (the same on every OS)
        and wakes the event loop the instant the process is gone.
        """
        loop = asyncio.get_running_loop()
        exited: asyncio.Future[int | None] = loop.create_future()

        def wait() -> None:
            code = popen.wait()
            loop.call_soon_threadsafe(_resolve, exited, code)

        threading.Thread(target=wait, name=f"wait-node-{popen.pid}", daemon=True).start()
        return await exited

    async def wait_taken_over(self, ident: ProcessIdentity) -> int | None:
        """Wait for a node this core took over; its return code when it is still our
        child (the core exec'd itself), None when that cannot be known."""
        loop = asyncio.get_running_loop()
        exited: asyncio.Future[int | None] = loop.create_future()

        def wait() -> None:
            code = wait_any_process(ident.pid)
            loop.call_soon_threadsafe(_resolve, exited, code)

        threading.Thread(target=wait, name=f"wait-node-{ident.pid}", daemon=True).start()
        return await exited

    def tree_rss(self, ident: ProcessIdentity) -> int:
        """Resident memory of the node's group, for the memory watchdog."""
        import psutil

        total = 0
        for pid in self.group_members(ident):
            try:
                total += psutil.Process(pid).memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return total


# A process that is not our child is looked at this often where no pidfd tells its end.
NOT_A_CHILD_POLL = 1.0


def reap_if_zombie(pid: int) -> None:
    """Collect ``pid`` if it is our child and has exited: a node that ended while this
    process exec'd a new core is a zombie nobody else will collect."""
    if sys.platform == "win32":
        return
    try:
        os.waitpid(pid, os.WNOHANG)
    except (ChildProcessError, OSError):
        pass


def wait_any_process(pid: int) -> int | None:
    """Block until ``pid`` is gone: its return code when it is our child, else None."""
    if hasattr(os, "waitpid") and sys.platform != "win32":
        try:
            _, status = os.waitpid(pid, 0)
            return os.waitstatus_to_exitcode(status)
        except ChildProcessError:
            pass
    if hasattr(os, "pidfd_open"):
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            return None  # already gone
        try:
            select.select([fd], [], [])
        finally:
            os.close(fd)
        return None
    import psutil

    while psutil.pid_exists(pid):
        time.sleep(NOT_A_CHILD_POLL)
    return None


def _resolve(future: asyncio.Future[Any], code: int | None) -> None:
    if not future.done():
        future.set_result(code)
