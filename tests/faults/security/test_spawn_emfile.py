"""EMFILE at spawn: a core out of file descriptors keeps supervising.

The core's open-file limit is lowered (prlimit) (its soft limit) below
what it already uses, then the node is killed: every restart fails (no pipe for the log
capture), which must be a failed start with back-off, never the end of
supervision. Once the limit is back, the node runs again and the status
names a live pid.
"""

from __future__ import annotations

import os
import resource
import signal

import psutil
import pytest

from tests.helpers import CoreHarness, wait_until


def set_nofile(pid: int, soft: int, hard: int) -> None:
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.slow
def test_emfile_at_spawn_is_a_failed_start_and_the_node_comes_back(core: CoreHarness) -> None:
    core.start()
    assert core.process is not None
    core_pid = core.process.pid
    old = resource.prlimit(core_pid, resource.RLIMIT_NOFILE)
    first = core.node_status()["pid"]
    # Every descriptor number from 3 up is taken or above the limit: no new pipe.
    # The hard limit stays: lowering it would need CAP_SYS_RESOURCE to undo.
    set_nofile(core_pid, 3, old[1])
    try:
        os.kill(first, signal.SIGKILL)
        wait_until(
            lambda: (
                "cannot start" in core.stderr_text() and "Too many open files" in core.stderr_text()
            ),
            20,
            "a failed start for EMFILE in the core's log",
        )
        assert core.process.poll() is None, "the core died of EMFILE"
        assert not psutil.pid_exists(first) or psutil.Process(first).status() == "zombie"
    finally:
        set_nofile(core_pid, *old)
    # The back-off goes on: once descriptors are available the node runs again.
    status = wait_until(
        lambda: (
            (s := core.node_status()).get("state") == "running"
            and s.get("pid") not in (None, first)
            and s
        ),
        30,
        "the node running again",
    )
    assert psutil.pid_exists(status["pid"])
    assert core.node_pids() == [status["pid"]]
    assert core.stop() == 0
