"""The node's record and the ``node`` part of the status object, as pure logic."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from nodekeeper.core.platform.base import ProcessIdentity
from nodekeeper.core.supervise.lifecycle import NodeState
from nodekeeper.core.supervise.process import ExitInfo, NodeRun
from nodekeeper.core.supervise.record import RunRecord, health_word, node_status


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    # NodeRun holds a future; nothing here runs the loop.
    loop = asyncio.new_event_loop()
    try:
        yield loop
    finally:
        loop.close()


def a_run(loop: asyncio.AbstractEventLoop, *, started_at: float = 100.0) -> NodeRun:
    return NodeRun(ProcessIdentity(4321, 1.0, 4321), "1.2.3", started_at, loop.create_future())


def test_every_start_after_the_first_is_a_restart(loop: asyncio.AbstractEventLoop) -> None:
    record = RunRecord()
    record.started(a_run(loop))
    assert (record.starts, record.restarts, record.version) == (1, 0, "1.2.3")
    record.started(a_run(loop))
    assert (record.starts, record.restarts) == (2, 1)


def test_an_exit_is_kept_with_how_long_the_run_lasted() -> None:
    record = RunRecord()
    record.exited(ExitInfo(1, None, "crashed"), "2026-01-01T00:00:00Z", ran_s=12.345)
    assert record.last_exit == {
        "code": 1,
        "signal": None,
        "reason": "crashed",
        "time": "2026-01-01T00:00:00Z",
        "ran_s": 12.3,
    }
    record.exited(ExitInfo(None, None, "failed-to-start", "no such file"), "t")
    assert record.last_exit is not None and "ran_s" not in record.last_exit


def test_status_of_a_live_healthy_run(loop: asyncio.AbstractEventLoop) -> None:
    record = RunRecord()
    run = a_run(loop)
    record.started(run)
    run.healthy = True
    status = node_status(
        record, NodeState.RUNNING, run, live=True, now=112.5, held_by_operator=False
    )
    assert status == {
        "state": "running",
        "pid": 4321,
        "version": "1.2.3",
        "uptime_s": 12.5,
        "restarts": 0,
        "healthy": True,
        "health": "healthy",
        "last_exit": None,
        "stopped_by_operator": False,
    }


def test_status_never_names_a_run_that_is_gone(loop: asyncio.AbstractEventLoop) -> None:
    record = RunRecord()
    run = a_run(loop)
    record.started(run)
    run.healthy = True
    status = node_status(
        record, NodeState.STOPPING, run, live=False, now=200.0, held_by_operator=True
    )
    assert (status["pid"], status["uptime_s"], status["healthy"], status["health"]) == (
        None,
        0.0,
        False,
        None,
    )
    assert status["version"] == "1.2.3"
    assert status["stopped_by_operator"] is True


def test_without_a_run_the_last_version_shows() -> None:
    record = RunRecord()
    record.version = "1.0.0"
    status = node_status(
        record, NodeState.STOPPED, None, live=False, now=0.0, held_by_operator=False
    )
    assert (status["state"], status["version"], status["healthy"]) == ("stopped", "1.0.0", False)


def test_health_word(loop: asyncio.AbstractEventLoop) -> None:
    run = a_run(loop)
    assert health_word(None) is None
    assert health_word(run) == "unhealthy"
    run.health_unknown = True
    assert health_word(run) == "unknown"
    run.health_unknown, run.healthy = False, True
    assert health_word(run) == "healthy"
    run.health_unknown = True
    status = node_status(
        RunRecord(), NodeState.STARTING, run, live=True, now=100.0, held_by_operator=False
    )
    assert status["healthy"] is None
