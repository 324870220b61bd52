"""The supervisor against real demo nodes, started by a real core process."""

from __future__ import annotations

import itertools
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.helpers import CoreHarness, demo_node_command, wait_until


def switchable_node(core: CoreHarness, switch: Path, faulty_args: list[str]) -> list[str]:
    """A node command that misbehaves (``faulty_args``) while the file ``switch`` exists."""
    normal = demo_node_command("run", "--port", str(core.port), "--pid-file", core.marker)
    faulty = shlex.join(normal + faulty_args)
    script = f"if [ -e {shlex.quote(str(switch))} ]; then exec {faulty}; else exec {shlex.join(normal)}; fi"
    return ["/bin/sh", "-c", script]


def new_pid_after(core: CoreHarness, old: int, timeout: float) -> tuple[int, float]:
    start = time.monotonic()
    pids = wait_until(
        lambda: [p for p in core.node_pids() if p != old], timeout, "a new node", 0.005
    )
    return pids[0], time.monotonic() - start


def recorded_pid(core: CoreHarness) -> int | None:
    """The pid the core records right after spawning (cheaper to poll than a process scan)."""
    try:
        return int(json.loads((core.data_dir / "node.pid").read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None


def test_killed_node_is_restarted_within_restart_delay(core: CoreHarness) -> None:
    core.node["stable_after"] = "1s"  # each kill below comes after a stable run
    core.start()
    pid = core.wait_state("running")["pid"]
    for _ in range(3):
        time.sleep(1.2)
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        new = wait_until(
            lambda pid=pid: (p := recorded_pid(core)) not in (None, pid) and p,
            5,
            "a new node",
            0.002,
        )
        elapsed = time.monotonic() - killed
        # restart_delay is 100 ms; the contract allows 200 ms more
        assert elapsed <= 0.1 + 0.2, f"new node after {elapsed:.3f}s"
        assert core.node_pids() == [new]
        wait_until(
            lambda new=new: core.node_status().get("pid") == new, 5, "status of the new node"
        )
        pid = new
    status = core.wait_state("running")
    assert status["restarts"] == 3
    assert status["last_exit"]["signal"] == "SIGKILL"


@pytest.mark.slow
def test_repeated_crashes_back_off_to_the_cap_then_a_stable_run_resets(
    core: CoreHarness, tmp_path: Path
) -> None:
    switch = tmp_path / "crash"
    switch.touch()
    core.node["command"] = switchable_node(core, switch, ["--crash-after", "0.05"])
    core.node.update(
        restart_delay="50ms",
        restart_delay_max="800ms",
        stable_after="3s",
        crash_loop_restarts=10,
        crash_loop_window="60s",
    )
    core.start(wait_running=False)
    starts: list[float] = []
    seen: set[int] = set()
    deadline = time.monotonic() + 40
    while len(starts) < 20 and time.monotonic() < deadline:
        for pid in core.node_pids():
            if pid not in seen:
                seen.add(pid)
                starts.append(time.monotonic())
        time.sleep(0.005)
    assert len(starts) >= 20
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # Each gap is the node's short life plus the delay: it grows, then stays at the cap.
    # The first delay is 50 ms, the capped ones at least 640 ms (800 ms less jitter).
    assert gaps[12] - gaps[0] >= 0.5
    assert max(gaps) < 0.8 + 1.5
    wait_until(
        lambda: (s := core.node_status()).get("state") == "crash-looping" and s["restarts"] >= 19,
        5,
        "crash-looping after 19 restarts",
    )
    # Healthy again for longer than stable_after: the next crash restarts quickly.
    switch.unlink()
    core.wait_state("running", timeout=10)
    time.sleep(3.5)
    assert core.node_status()["state"] == "running"
    old = core.node_pids()[0]
    os.kill(old, signal.SIGKILL)
    _, elapsed = new_pid_after(core, old, timeout=5)
    assert elapsed <= 0.05 + 0.25


@pytest.mark.slow
@pytest.mark.parametrize("how", ["sigstop", "hang-switch"])
def test_unresponsive_node_is_restarted_after_the_failed_checks(
    core: CoreHarness, tmp_path: Path, how: str
) -> None:
    if how == "hang-switch":
        switch = tmp_path / "hang"
        switch.touch()
        core.node["command"] = switchable_node(core, switch, ["--hang-after", "2"])
    core.start()
    old = core.wait_state("running")["pid"]
    if how == "sigstop":
        os.kill(old, signal.SIGSTOP)
    else:
        time.sleep(2)
    hung_at = time.monotonic()
    new, _ = new_pid_after(core, old, timeout=15)
    took = time.monotonic() - hung_at
    # health_failures (3) × health_interval (1 s), plus the graceful stop of a frozen node
    assert 2.0 <= took <= 3 * 1.0 + 3.0 + 2.0, took
    assert not psutil.pid_exists(old) or psutil.Process(old).status() == psutil.STATUS_ZOMBIE
    assert core.node_pids() == [new]


@pytest.mark.slow
def test_node_ignoring_its_stop_signal_is_killed_with_its_child(
    core: CoreHarness, tmp_path: Path
) -> None:
    child_file = tmp_path / "child.pid"
    core.node["command"] = demo_node_command(
        "run",
        "--port",
        str(core.port),
        "--pid-file",
        core.marker,
        "--ignore-stop",
        "--fork-child",
        "--child-pid-file",
        str(child_file),
    )
    core.node["stop_timeout"] = "2s"
    core.start()
    node_pid = core.wait_state("running")["pid"]
    child_pid = int(
        wait_until(lambda: child_file.exists() and child_file.read_text().strip(), 5, "child")
    )
    assert psutil.pid_exists(child_pid)
    started = time.monotonic()
    assert core.stop() == 0
    took = time.monotonic() - started
    assert 2.0 <= took < 8.0
    for pid in (node_pid, child_pid):
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_sigterm_to_the_core_stops_the_node_gracefully_and_exits_0(core: CoreHarness) -> None:
    core.start()
    node_pid = core.wait_state("running")["pid"]
    assert core.stop() == 0
    assert not psutil.pid_exists(node_pid)
    final = json.loads((core.data_dir / "status.json").read_text())
    assert final["node"]["state"] == "stopped"
    assert final["node"]["last_exit"]["code"] == 0


def test_sigint_to_the_core_also_stops_cleanly(core: CoreHarness) -> None:
    process = core.start()
    node_pid = core.wait_state("running")["pid"]
    process.send_signal(signal.SIGINT)
    assert process.wait(20) == 0
    assert not psutil.pid_exists(node_pid)


def test_second_core_on_the_same_data_dir_exits_with_a_clear_error(core: CoreHarness) -> None:
    core.start()
    node_pid = core.wait_state("running")["pid"]
    second = subprocess.run(
        [sys.executable, "-m", "nodekeeper.core", "run", "--config", str(core.config_path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert second.returncode == 2
    assert second.stderr.count("\n") == 1
    assert "already running" in second.stderr and str(core.data_dir) in second.stderr
    assert core.node_pids() == [node_pid]


def test_a_reused_pid_in_the_pid_file_is_never_killed(core: CoreHarness) -> None:
    bystander = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        core.data_dir.mkdir(parents=True)
        # A stale record naming the bystander's pid but an older start time.
        (core.data_dir / "node.pid").write_text(
            json.dumps(
                {
                    "pid": bystander.pid,
                    "group": bystander.pid,
                    "create_time": 1000.0,
                    "version": "1.0.0",
                }
            )
        )
        core.start()
        assert bystander.poll() is None
        assert len(core.node_pids()) == 1
    finally:
        bystander.kill()
        bystander.wait()


def test_a_node_left_by_a_dead_core_is_taken_over_with_its_pipes(core: CoreHarness) -> None:
    process = core.start()
    old = core.wait_state("running")["pid"]
    process.kill()  # SIGKILL: the core cannot hand anything over
    process.wait()
    time.sleep(1.5)  # the node goes on logging into its pipes, which it keeps open
    assert core.node_pids() == [old]
    core.start()
    assert core.node_pids() == [old]
    status = core.wait_state("running")
    assert status["pid"] == old
    assert status["restarts"] == 0
    assert f"took over the running node: pid {old}" in core.stderr_text()
    # Its output reaches the log again: the demo node logs a line a second.
    log = core.root / "logs" / f"{core.instance}.log"
    size = log.stat().st_size
    wait_until(lambda: log.stat().st_size > size, 10, "new node lines in the log")


def test_a_node_that_cannot_be_taken_over_is_stopped_before_a_new_one_starts(
    core: CoreHarness,
) -> None:
    process = core.start()
    old = core.wait_state("running")["pid"]
    process.kill()
    process.wait()
    # A pid file as nodekeeper 0.2 wrote it names no pipes: the node can only be stopped.
    pidfile = core.data_dir / "node.pid"
    record = json.loads(pidfile.read_text())
    del record["pipes"]
    pidfile.write_text(json.dumps(record))
    core.start()
    assert core.node_pids() != [old]
    assert len(core.node_pids()) == 1
    assert "a node left by a previous core is still running" in core.stderr_text()


@pytest.mark.slow
def test_memory_limit_restarts_a_node_that_exceeds_it(core: CoreHarness) -> None:
    core.node["command"] = demo_node_command(
        "run", "--port", str(core.port), "--pid-file", core.marker, "--eat-memory", "400MiB"
    )
    core.extra["limits"] = {"memory_max": "64MiB"}
    core.start(wait_running=False)
    first = wait_until(core.node_pids, 10, "the node")[0]
    _new, _ = new_pid_after(core, first, timeout=30)
    status = wait_until(
        lambda: (s := core.status()) and s["node"]["restarts"] >= 1 and s, 5, "a restart in status"
    )
    assert status["limits"]["memory_max"] == 64 * 1024 * 1024
    assert status["limits"]["enforced_by"] in ("cgroup", "watchdog")
    assert status["node"]["restarts"] >= 1
