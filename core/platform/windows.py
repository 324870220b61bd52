"""Process control on Windows: Job Objects, console control events, file locks.

The node runs in a new process group (so CTRL_BREAK reaches it alone) and in
a Job Object created with KILL_ON_JOB_CLOSE: when the core dies, Windows
closes its handle to the job and kills every process in it, so a node never
outlives its core. Memory and CPU limits are job limits.

Every Win32 call goes through :class:`Win32`, a thin ctypes wrapper, so the
logic here is unit-tested on any OS with a recording stand-in.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Protocol

import psutil

from nodekeeper.core.config import LimitsConfig
from nodekeeper.core.errors import AlreadyRunning
from nodekeeper.core.platform.base import (
    DataDirLock,
    Platform,
    ProcessIdentity,
    ProcessStatus,
    SpawnRequest,
)

CREATE_NEW_PROCESS_GROUP = 0x00000200
CTRL_C_EVENT = 0
CTRL_BREAK_EVENT = 1

JOB_OBJECT_LIMIT_PROCESS_MEMORY = 0x00000100
JOB_OBJECT_LIMIT_JOB_MEMORY = 0x00000200
JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x00002000
JOB_OBJECT_CPU_RATE_CONTROL_ENABLE = 0x1
JOB_OBJECT_CPU_RATE_CONTROL_HARD_CAP = 0x4
# Priority classes by Unix nice value (the nearest Windows class).
BELOW_NORMAL_PRIORITY_CLASS = 0x00004000
IDLE_PRIORITY_CLASS = 0x00000040
ABOVE_NORMAL_PRIORITY_CLASS = 0x00008000
NORMAL_PRIORITY_CLASS = 0x00000020


def job_limit_flags(limits: LimitsConfig) -> int:
    flags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
    if limits.memory_max is not None:
        flags |= JOB_OBJECT_LIMIT_JOB_MEMORY
    return flags


def cpu_rate(cpu_max: float, cpu_count: int) -> int:
    """CpuRate for JOBOBJECT_CPU_RATE_CONTROL_INFORMATION: 1/100 % of all CPUs."""
    share = min(1.0, cpu_max / max(1, cpu_count))
    return max(1, min(10_000, round(share * 10_000)))


def priority_class(nice: int | None) -> int:
    if nice is None or nice == 0:
        return NORMAL_PRIORITY_CLASS
    if nice >= 15:
        return IDLE_PRIORITY_CLASS
    if nice > 0:
        return BELOW_NORMAL_PRIORITY_CLASS
    return ABOVE_NORMAL_PRIORITY_CLASS


def console_event(signal_name: str) -> int:
    return CTRL_C_EVENT if signal_name in ("CTRL_C", "SIGINT") else CTRL_BREAK_EVENT


class Win32(Protocol):
    """The Win32 calls this module needs (the real ones: ``_win32_ctypes.CtypesWin32``)."""

    def create_job(self, name: str | None) -> int: ...
    def set_job_limits(
        self, job: int, flags: int, memory: int | None, cpu_rate: int | None
    ) -> None: ...
    def assign_to_job(self, job: int, pid: int) -> None: ...
    def terminate_job(self, job: int, exit_code: int) -> None: ...
    def job_pids(self, job: int) -> list[int]: ...
    def send_console_event(self, event: int, group_pid: int) -> None: ...
    def lock_file(self, fd: int) -> bool: ...
    def unlock_file(self, fd: int) -> None: ...


class _FileLock(DataDirLock):
    def __init__(self, api: Win32, fd: int) -> None:
        self._api, self._fd = api, fd

    def release(self) -> None:
        if self._fd >= 0:
            self._api.unlock_file(self._fd)
            os.close(self._fd)
            self._fd = -1


class WindowsPlatform(Platform):
    name = "windows"

    def __init__(self, api: Win32 | None = None, cpu_count: int | None = None) -> None:
        self._api = api if api is not None else _ctypes_win32()
        self._cpu_count = cpu_count or os.cpu_count() or 1
        self._jobs: dict[int, int] = {}  # node pid -> job handle

    def enforced_by(self, limits: LimitsConfig) -> str:
        if limits.memory_max is None and limits.cpu_max is None:
            return "priority-class" if limits.nice is not None else "none"
        return "job-object"

    def spawn(self, request: SpawnRequest) -> subprocess.Popen[bytes]:
        job = self._api.create_job(None)
        limits = request.limits
        rate = cpu_rate(limits.cpu_max, self._cpu_count) if limits.cpu_max is not None else None
        self._api.set_job_limits(job, job_limit_flags(limits), limits.memory_max, rate)
        popen = subprocess.Popen(
            list(request.argv),
            env=dict(request.env),
            cwd=request.cwd,
            stdin=subprocess.DEVNULL,
            stdout=request.stdout,
            stderr=request.stderr,
            creationflags=CREATE_NEW_PROCESS_GROUP | priority_class(limits.nice),
            close_fds=True,
        )
        self._api.assign_to_job(job, popen.pid)
        self._jobs[popen.pid] = job
        return popen

    def identity(self, pid: int) -> ProcessIdentity | None:
        try:
            return ProcessIdentity(pid, psutil.Process(pid).create_time(), pid)
        except psutil.NoSuchProcess:
            return None

    def status(self, pid: int) -> ProcessStatus:
        try:
            state = psutil.Process(pid).status()
        except psutil.NoSuchProcess:
            return "gone"
        return "stopped" if state == psutil.STATUS_STOPPED else "running"

    def group_members(self, ident: ProcessIdentity) -> list[int]:
        job = self._jobs.get(ident.pid)
        if job is not None:
            return self._api.job_pids(job)
        members = []
        try:
            leader = psutil.Process(ident.pid)
            if abs(leader.create_time() - ident.create_time) < 0.05:
                members = [ident.pid] + [c.pid for c in leader.children(recursive=True)]
        except psutil.NoSuchProcess:
            pass
        return members

    def send_stop(self, ident: ProcessIdentity, signal_name: str) -> None:
        self._api.send_console_event(console_event(signal_name), ident.group)

    def kill_tree(self, ident: ProcessIdentity) -> int:
        job = self._jobs.get(ident.pid)
        members = self.group_members(ident)
        if job is not None:
            self._api.terminate_job(job, 1)
        else:
            for pid in members:
                try:
                    psutil.Process(pid).kill()
                except psutil.NoSuchProcess:
                    pass
        return len(members)

    def lock_data_dir(self, path: Path, inherited: str | None = None) -> DataDirLock:
        fd = os.open(path / "core.lock", os.O_RDWR | os.O_CREAT, 0o644)
        if not self._api.lock_file(fd):
            os.close(fd)
            raise AlreadyRunning(
                f"another nodekeeper core is already running for data dir {path}; stop it first"
            )
        return _FileLock(self._api, fd)


def _ctypes_win32() -> Win32:
    """The real Win32 calls; the bindings module is imported here, on Windows only."""
    if sys.platform == "win32":
        from nodekeeper.core.platform._win32_ctypes import CtypesWin32

        return CtypesWin32()
    raise OSError("the Windows platform layer needs Windows")
