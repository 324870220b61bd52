"""A part of a real core dies: the core says why, stops the node and exits non-zero.

The real fault: ``state.json`` is corrupted under a running core. The status
writer reads it for every status and dies of the StateError; a core whose
status file silently froze would lie from then on, so it must end (and be
restarted by its service manager, which then reports the corrupt file).
"""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest

from tests.helpers import CoreHarness, wait_until


@pytest.mark.slow
def test_a_dead_part_stops_the_node_and_ends_the_core_non_zero(core: CoreHarness) -> None:
    core.start()
    assert core.process is not None
    node = core.node_status()["pid"]
    (core.data_dir / "state.json").write_text("{ not json")
    # A crash of the node is a change of status: the status writer reads the state again.
    os.kill(node, signal.SIGKILL)
    code = core.process.wait(timeout=float(3 + 10 + 5))
    assert code == 1
    log = core.stderr_text()
    assert "status writer failed: StateError" in log
    assert "Traceback" in log
    wait_until(lambda: core.node_pids() == [], 10, "no node left")


@pytest.mark.slow
def test_sigterm_ends_the_core_in_bounded_time_while_the_node_ignores_it(
    core: CoreHarness,
) -> None:
    core.node["command"] = [*core.node["command"], "--ignore-stop"]
    core.node["stop_signal"] = "SIGTERM"
    core.node["stop_timeout"] = "2s"
    core.start()
    assert core.process is not None
    node = core.node_status()["pid"]
    began = time.monotonic()
    core.process.send_signal(signal.SIGTERM)
    assert core.process.wait(timeout=2 + 10 + 5) == 0
    assert time.monotonic() - began < 2 + 10
    assert not psutil.pid_exists(node) or psutil.Process(node).status() == "zombie"


def test_sigpipe_never_kills_the_core(core: CoreHarness) -> None:
    core.start()
    assert core.process is not None
    os.kill(core.process.pid, signal.SIGPIPE)
    time.sleep(0.5)
    assert core.process.poll() is None
    assert core.stop() == 0
