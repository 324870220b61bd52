"""The Windows platform layer, exercised through a recording Win32 stand-in.

Windows itself is not available here: these tests check the decisions
(job flags, CPU rate, priority class, console events, lock handling) and
the order of Win32 calls; the ctypes bindings are reviewed by hand.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from nodekeeper.core.config import LimitsConfig
from nodekeeper.core.errors import AlreadyRunning
from nodekeeper.core.platform.base import ProcessIdentity, SpawnRequest
from nodekeeper.core.platform.windows import (
    BELOW_NORMAL_PRIORITY_CLASS,
    CTRL_BREAK_EVENT,
    CTRL_C_EVENT,
    IDLE_PRIORITY_CLASS,
    JOB_OBJECT_LIMIT_JOB_MEMORY,
    JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
    NORMAL_PRIORITY_CLASS,
    WindowsPlatform,
    console_event,
    cpu_rate,
    job_limit_flags,
    priority_class,
)


class RecordingWin32:
    def __init__(self, lock_ok: bool = True) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.lock_ok = lock_ok

    def create_job(self, name: str | None) -> int:
        self.calls.append(("create_job", name))
        return 77

    def set_job_limits(self, job: int, flags: int, memory: int | None, rate: int | None) -> None:
        self.calls.append(("set_job_limits", job, flags, memory, rate))

    def assign_to_job(self, job: int, pid: int) -> None:
        self.calls.append(("assign_to_job", job, pid))

    def terminate_job(self, job: int, exit_code: int) -> None:
        self.calls.append(("terminate_job", job, exit_code))

    def job_pids(self, job: int) -> list[int]:
        return [1, 2]

    def send_console_event(self, event: int, group_pid: int) -> None:
        self.calls.append(("send_console_event", event, group_pid))

    def lock_file(self, fd: int) -> bool:
        self.calls.append(("lock_file",))
        return self.lock_ok

    def unlock_file(self, fd: int) -> None:
        self.calls.append(("unlock_file",))


def test_the_job_always_kills_its_processes_when_the_core_goes_away() -> None:
    assert job_limit_flags(LimitsConfig()) == JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
    assert job_limit_flags(LimitsConfig(memory_max=1 << 30)) & JOB_OBJECT_LIMIT_JOB_MEMORY


@pytest.mark.parametrize(
    ("cpu_max", "cpus", "rate"), [(1.5, 4, 3750), (1.0, 1, 10_000), (8, 2, 10_000), (0.001, 64, 1)]
)
def test_cpu_rate_is_a_share_of_all_cpus_in_hundredths_of_a_percent(
    cpu_max: float, cpus: int, rate: int
) -> None:
    assert cpu_rate(cpu_max, cpus) == rate


def test_nice_maps_to_the_nearest_priority_class() -> None:
    assert priority_class(None) == NORMAL_PRIORITY_CLASS
    assert priority_class(10) == BELOW_NORMAL_PRIORITY_CLASS
    assert priority_class(19) == IDLE_PRIORITY_CLASS


def test_stop_signal_maps_to_a_console_event() -> None:
    assert console_event("CTRL_BREAK") == CTRL_BREAK_EVENT
    assert console_event("SIGINT") == CTRL_C_EVENT
    assert console_event("CTRL_C") == CTRL_C_EVENT


@pytest.mark.skipif(sys.platform == "win32", reason="runs a POSIX child through the stand-in")
def test_spawn_puts_the_node_into_a_limited_job_and_kill_terminates_the_job(tmp_path: Path) -> None:
    api = RecordingWin32()
    platform = WindowsPlatform(api, cpu_count=2)
    limits = LimitsConfig(memory_max=256 << 20, cpu_max=1.0, nice=10)
    # creationflags are Windows-only; the stand-in spawn goes through Popen on POSIX,
    # where CPython rejects non-zero creationflags, so check the plan instead.
    with pytest.raises(ValueError, match="creationflags"):
        platform.spawn(
            SpawnRequest([sys.executable, "-c", "pass"], {}, None, None, None, limits, "n")
        )
    assert api.calls[0] == ("create_job", None)
    assert api.calls[1] == (
        "set_job_limits",
        77,
        JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | JOB_OBJECT_LIMIT_JOB_MEMORY,
        256 << 20,
        5000,
    )
    assert platform.enforced_by(limits) == "job-object"


def test_stop_sends_the_console_event_to_the_node_group() -> None:
    api = RecordingWin32()
    WindowsPlatform(api).send_stop(ProcessIdentity(4242, 1.0, 4242), "CTRL_BREAK")
    assert api.calls == [("send_console_event", CTRL_BREAK_EVENT, 4242)]


def test_a_second_core_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AlreadyRunning):
        WindowsPlatform(RecordingWin32(lock_ok=False)).lock_data_dir(tmp_path)
    api = RecordingWin32()
    lock = WindowsPlatform(api).lock_data_dir(tmp_path)
    lock.release()
    assert api.calls == [("lock_file",), ("unlock_file",)]
