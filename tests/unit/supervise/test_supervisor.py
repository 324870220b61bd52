"""The supervisor's rules, driven through a fake platform and a clock the test moves.

No process is started and nothing sleeps: each scenario runs in a loop of
its own, and time passes only in ``clock.advance``. The same behaviour
against real nodes is in tests/integration/supervise.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from nodekeeper.core.config import LimitsConfig
from nodekeeper.core.platform.base import ProcessIdentity
from nodekeeper.core.supervise.health import ProbeResult
from nodekeeper.core.supervise.spawn import LaunchPlan
from tests.unit.supervise.fakes import Harness, IllegalTransitionLog, node_config, supervised

FAILING = ProbeResult(False, "HTTP 503")


@pytest.fixture(autouse=True)
def no_illegal_transitions() -> Iterator[None]:
    """Every scenario below stays inside the lifecycle table."""
    handler = IllegalTransitionLog()
    logger = logging.getLogger("nodekeeper.core.supervise.supervisor")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
    assert handler.messages == []


def test_node_is_starting_until_its_first_good_health_check(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        h.prober.result = FAILING
        await h.start()
        assert h.state == "starting"
        assert h.platform.spawned[0].argv == ("storagenode", "run")
        assert h.platform.spawned[0].name == "testnode"
        h.prober.result = ProbeResult(True)
        await h.clock.advance(0.5)
        status = h.supervisor.status()
        assert (status["state"], status["healthy"], status["pid"]) == ("running", True, h.node.pid)
        assert status["version"] == "1.2.3"
        assert h.of_kind("node-started") == [{"pid": h.node.pid, "version": "1.2.3"}]
        await h.clock.advance(12.0)
        assert h.supervisor.status()["uptime_s"] == 12.5
        await h.shutdown()

    supervised(tmp_path, scenario)


def test_without_health_url_a_started_node_is_running_at_once(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        await h.start()
        assert (h.state, h.supervisor.status()["healthy"]) == ("running", True)
        assert h.prober.calls == 0
        await h.shutdown()

    supervised(tmp_path, scenario, health_url=None)


def test_a_crash_backs_off_then_restarts_within_restart_delay(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        await h.start()
        first = h.node
        first.exit(1)
        await h.clock.advance(0)
        status = h.supervisor.status()
        assert status["state"] == "backoff"
        assert status["last_exit"]["code"] == 1
        assert status["last_exit"]["reason"] == "crashed"
        assert h.of_kind("node-exited")[-1]["requested"] is False
        assert not h.pidfile.path.exists()
        await h.clock.advance(0.1 * 0.8 - 0.001)  # the shortest jittered delay
        assert h.platform.live() == []
        await h.clock.advance(0.021)
        assert h.node is not first
        assert h.supervisor.status()["restarts"] == 1
        assert h.pidfile.read() == ProcessIdentity(h.node.pid, h.node.create_time, h.node.pid)
        await h.shutdown()

    supervised(tmp_path, scenario, health_url=None)


def test_repeated_crashes_double_the_delay_up_to_the_cap_then_crash_loop(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        await h.start()
        delays = []
        for _ in range(8):
            h.node.exit(2)
            crashed = h.clock.now()
            await h.clock.advance(0)
            while not h.platform.live():
                await h.clock.advance(0.01)
            delays.append(h.clock.now() - crashed)
        assert [round(d, 2) for d in delays[:4]] <= [0.1, 0.2, 0.4, 0.8]
        assert all(later > earlier for earlier, later in itertools.pairwise(delays[:4]))
        assert all(1.6 <= d <= 2.01 for d in delays[4:])  # restart_delay_max less jitter
        assert h.of_kind("crash-loop") == [{"exits": 5, "window_s": 600.0}]
        h.node.exit(2)
        await h.clock.advance(0)
        assert h.state == "crash-looping"
        await h.shutdown()

    supervised(tmp_path, scenario, health_url=None, crash_loop_restarts=5)


def test_a_run_longer_than_stable_after_resets_the_backoff(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        await h.start()
        for _ in range(4):
            h.node.exit(1)
            await h.clock.advance(1.0)
        await h.clock.advance(5.0)  # stable_after
        h.node.exit(1)
        await h.clock.advance(0.1)
        assert len(h.platform.live()) == 1
        assert h.state == "running"
        await h.shutdown()

    supervised(tmp_path, scenario, health_url=None)


def test_failed_health_checks_restart_the_node_like_a_crash(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        await h.start()
        await h.clock.advance(0.5)
        hung = h.node
        h.prober.result = FAILING
        await h.clock.advance(2.0)
        assert h.node is hung and h.state == "running"
        assert h.supervisor.status()["healthy"] is False
        await h.clock.advance(1.0)  # the third failure
        assert h.of_kind("node-unhealthy") == [
            {"pid": hung.pid, "detail": "HTTP 503", "failures": 3}
        ]
        assert hung.stop_signals == ["SIGINT"] and not hung.alive
        assert h.state == "backoff"
        assert h.supervisor.status()["last_exit"]["reason"] == "unhealthy"
        assert h.of_kind("node-exited")[-1]["requested"] is False
        h.prober.result = ProbeResult(True)
        await h.clock.advance(0.1)
        await h.clock.advance(0.5)
        assert h.state == "running" and h.node is not hung
        await h.shutdown()

    supervised(tmp_path, scenario)


def test_a_frozen_process_fails_its_checks_even_without_health_url(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        await h.start()
        frozen = h.node
        frozen.frozen = True  # SIGSTOP: it cannot handle its stop signal either
        await h.clock.advance(3 * 1.0)
        assert h.of_kind("node-unhealthy")[0]["detail"] == "process is stopped"
        assert h.state == "stopping" and frozen.alive
        await h.clock.advance(3.0)  # stop_timeout
        assert h.platform.kills == [frozen.pid]
        await h.clock.advance(0.1)
        assert h.node is not frozen
        await h.shutdown()

    supervised(tmp_path, scenario, health_url=None)


def test_a_bug_in_the_health_probe_does_not_end_supervision(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        h.prober.error = ValueError("a bug")
        await h.start()
        node = h.node
        await h.clock.advance(10.0)
        assert h.node is node and h.state == "starting"
        node.exit(1)
        await h.clock.advance(0.1)
        assert h.node is not node
        await h.shutdown()

    supervised(tmp_path, scenario)


def test_a_node_ignoring_its_stop_signal_is_killed_after_stop_timeout(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        h.platform.ignore_stop = True
        await h.start()
        stubborn = h.node
        await h.supervisor.restart()
        await h.clock.advance(0)
        assert stubborn.stop_signals == ["SIGTERM"]
        assert h.state == "stopping"
        await h.clock.advance(2.99)
        assert stubborn.alive and h.platform.kills == []
        await h.clock.advance(0.01)
        assert not stubborn.alive and h.platform.kills == [stubborn.pid]
        status = h.supervisor.status()
        assert status["last_exit"]["signal"] == "SIGKILL"
        assert status["last_exit"]["reason"] == "requested"
        # A requested restart is not a crash: the new node starts at once.
        assert h.node is not stubborn and status["state"] == "running"
        assert h.of_kind("node-exited")[-1]["requested"] is True
        h.platform.ignore_stop = False
        h.node.ignores_stop = False
        await h.shutdown()

    supervised(tmp_path, scenario, health_url=None, stop_signal="SIGTERM")


def test_leftovers_of_the_group_are_killed_before_the_next_start(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        await h.start()
        leader = h.node
        child = h.platform.add(("child",), group=leader.pid)
        leader.exit(1)
        await h.clock.advance(0)
        assert not child.alive and h.platform.kills == [child.pid]
        await h.clock.advance(0.2)
        assert h.node.argv == ("storagenode", "run")
        await h.shutdown()

    supervised(tmp_path, scenario, health_url=None)


def test_hold_stops_the_node_until_release(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        await h.start()
        await h.clock.advance(0.5)
        old = h.node
        await h.supervisor.hold("update")
        assert not old.alive and old.stop_signals == ["SIGINT"]
        status = h.supervisor.status()
        assert (status["state"], status["pid"]) == ("updating", None)
        assert status["last_exit"]["reason"] == "hold"
        assert h.of_kind("node-exited")[-1]["requested"] is True
        await h.clock.advance(600.0)
        assert h.platform.live() == [] and h.state == "updating"
        await h.supervisor.release()
        await h.clock.advance(0.5)
        assert h.state == "running" and h.node is not old
        await h.supervisor.hold("operator")
        assert h.state == "stopped"
        await h.supervisor.restart()  # an explicit restart ends a hold
        await h.clock.advance(0.5)
        assert h.state == "running"
        await h.shutdown()

    supervised(tmp_path, scenario)


def test_hold_during_the_restart_wait_keeps_the_node_stopped(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        await h.start()
        h.node.exit(1)
        await h.clock.advance(0)
        assert h.state == "backoff"
        await h.supervisor.hold("update")
        assert h.state == "updating"
        await h.clock.advance(10.0)
        assert h.platform.live() == []
        await h.supervisor.release()
        await h.clock.advance(0)
        assert h.state == "running"
        await h.shutdown()

    supervised(tmp_path, scenario, health_url=None)


def test_wait_until_healthy(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        h.prober.result = FAILING
        await h.start()
        waiting = asyncio.ensure_future(h.supervisor.wait_until_healthy(10.0))
        await h.clock.advance(2.0)
        assert not waiting.done()
        h.prober.result = ProbeResult(True)
        await h.clock.advance(1.0)
        assert waiting.result() is True
        h.prober.result = FAILING
        await h.supervisor.restart()
        late = asyncio.ensure_future(h.supervisor.wait_until_healthy(1.5))
        await h.clock.advance(1.5)
        assert late.result() is False
        await h.shutdown()

    supervised(tmp_path, scenario)


def test_shutdown_during_the_restart_wait_ends_at_once(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        await h.start()
        h.node.exit(1)
        await h.clock.advance(0)
        await h.clock.advance(0.01)
        assert h.state == "backoff"
        await h.shutdown()
        assert h.state == "stopped" and h.platform.live() == []
        assert len(h.platform.spawned) == 1

    supervised(tmp_path, scenario, health_url=None, restart_delay=60.0, restart_delay_max=60.0)


def test_requests_do_not_hang_when_the_supervisor_is_not_running(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        await h.supervisor.hold("update")
        await h.supervisor.shutdown()
        assert h.platform.spawned == []

    supervised(tmp_path, scenario)


def test_a_node_that_cannot_be_started_is_retried_with_backoff(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        h.platform.spawn_error = FileNotFoundError(errno.ENOENT, "No such file or directory")
        await h.start()
        status = h.supervisor.status()
        assert status["state"] == "backoff" and status["pid"] is None
        assert status["last_exit"]["reason"] == "failed-to-start"
        assert (
            status["last_exit"]["message"] == "cannot start storagenode: No such file or directory"
        )
        assert h.of_kind("node-exited")[0]["reason"] == "failed-to-start"
        h.platform.spawn_error = None
        await h.clock.advance(0.1)
        assert h.state == "running"
        assert h.supervisor.status()["restarts"] == 0  # the first process that ran
        await h.shutdown()

    supervised(tmp_path, scenario, health_url=None)


def test_a_command_that_cannot_be_resolved_is_a_failed_start(tmp_path: Path) -> None:
    def resolve() -> LaunchPlan:
        raise RuntimeError("no installed version to run for {binary}")

    async def scenario(h: Harness) -> None:
        await h.start()
        last_exit = h.supervisor.status()["last_exit"]
        assert last_exit["reason"] == "failed-to-start"
        assert "no installed version" in last_exit["message"]
        assert h.platform.spawned == []
        await h.shutdown()

    supervised(tmp_path, scenario, resolve=resolve, health_url=None)


def test_memory_above_the_watchdog_limit_restarts_the_node(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        h.platform.enforcement = "watchdog"
        await h.start()
        first = h.node
        h.platform.rss = 65 * 2**20
        await h.clock.advance(1.0)
        assert not first.alive
        assert h.supervisor.status()["last_exit"]["reason"] == "memory"
        await h.clock.advance(0.1)
        assert h.node is not first
        await h.shutdown()

    supervised(tmp_path, scenario, limits=LimitsConfig(memory_max=64 * 2**20), health_url=None)


def test_shutdown_stops_the_node_gracefully(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        await h.start()
        node = h.node
        await h.shutdown()
        assert node.stop_signals == ["SIGINT"] and h.platform.kills == []
        status = h.supervisor.status()
        assert (status["state"], status["last_exit"]["reason"]) == ("stopped", "shutdown")
        assert not h.pidfile.path.exists()

    supervised(tmp_path, scenario, health_url=None)


def test_a_node_left_by_a_previous_core_is_stopped_before_the_first_start(tmp_path: Path) -> None:
    def leave_a_node(h: Harness) -> None:
        left = h.platform.add(("storagenode", "run"))
        h.pidfile.write(ProcessIdentity(left.pid, left.create_time, left.group), "1.2.2")

    async def scenario(h: Harness) -> None:
        (left,) = h.platform.live()
        await h.start()
        assert left.stop_signals == ["SIGINT"] and not left.alive
        assert len(h.platform.spawned) == 1 and h.node is not left
        await h.shutdown()

    supervised(tmp_path, scenario, before=leave_a_node, health_url=None)


def test_a_reused_pid_in_the_pid_file_is_never_touched(tmp_path: Path) -> None:
    def record_a_reused_pid(h: Harness) -> None:
        bystander = h.platform.add(("sleep", "60"))
        h.pidfile.write(ProcessIdentity(bystander.pid, 1000.0, bystander.group), "1.2.2")

    async def scenario(h: Harness) -> None:
        (bystander,) = h.platform.live()
        await h.start()
        assert bystander.alive and bystander.stop_signals == [] and h.platform.kills == []
        assert len(h.platform.live()) == 2
        await h.shutdown()

    supervised(tmp_path, scenario, before=record_a_reused_pid, health_url=None)


def test_an_operator_stop_outlasts_update_holds_restarts_and_releases(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        await h.start()
        await h.clock.advance(0.5)
        old = h.node
        await h.supervisor.stop_by_operator()
        assert not old.alive and h.platform.live() == []
        status = h.supervisor.status()
        assert (status["state"], status["stopped_by_operator"]) == ("stopped", True)
        # Neither an update's hold and release nor a restart request starts it.
        await h.supervisor.hold("update")
        await h.supervisor.release()
        await h.supervisor.restart()
        await h.clock.advance(600.0)
        assert h.platform.live() == [] and h.state == "stopped"
        await h.supervisor.start_by_operator()
        await h.clock.advance(0.5)
        assert h.state == "running" and h.supervisor.status()["stopped_by_operator"] is False
        await h.shutdown()

    supervised(tmp_path, scenario, health_url=None)


def test_a_supervisor_created_stopped_by_operator_never_starts_the_node(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        await h.start()
        await h.clock.advance(60.0)
        assert h.platform.live() == [] and h.state == "stopped"
        assert "node-started" not in h.kinds()
        await h.supervisor.start_by_operator()
        await h.clock.advance(0.5)
        assert h.state == "running"
        await h.shutdown()

    supervised(tmp_path, scenario, health_url=None, held_by_operator=True)


def test_an_operator_stop_during_the_restart_wait_keeps_the_node_stopped(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        await h.start()
        h.node.exit(1)
        await h.clock.advance(0)
        assert h.state == "backoff"
        await h.supervisor.stop_by_operator()
        await h.clock.advance(10.0)
        assert h.platform.live() == [] and h.state == "stopped"
        await h.shutdown()

    supervised(tmp_path, scenario, health_url=None)


def test_reloaded_health_settings_watch_the_running_node_at_once(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        await h.start()
        await h.clock.advance(0.5)
        node = h.node
        h.supervisor.reconfigure(
            node_config(health_failures=1, health_interval=1.0),
            LimitsConfig(),
            lambda: LaunchPlan(("storagenode", "run"), "1.2.3"),
        )
        await h.clock.advance(0)
        assert h.node is node  # reloading does not restart the node
        h.prober.result = FAILING
        await h.clock.advance(1.0)  # one failure is now enough
        assert h.of_kind("node-unhealthy") == [
            {"pid": node.pid, "detail": "HTTP 503", "failures": 1}
        ]
        await h.shutdown()

    supervised(tmp_path, scenario)
