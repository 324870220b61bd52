"""The CLI against a real `nodekeeper run --config` core supervising the demo node."""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest

from nodekeeper.core.ipc.client import Client
from tests.helpers import CoreHarness, run_cli, wait_until
from tests.integration.ipc.support import read_events, subscribe_raw


def cli(core: CoreHarness, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, "--config", core.config_path)


def enabled_via_socket(core: CoreHarness) -> bool:
    result = cli(core, "status", "--json")
    assert result.returncode == 0, result.stderr
    enabled: bool = json.loads(result.stdout)["updates"]["enabled"]
    return enabled


@pytest.mark.slow
def test_updates_on_off_survives_core_restarts(core: CoreHarness) -> None:
    core.start()
    assert enabled_via_socket(core) is False  # the config says false
    assert cli(core, "updates", "on").returncode == 0
    assert enabled_via_socket(core) is True
    assert core.stop() == 0
    core.start()
    assert enabled_via_socket(core) is True, "updates on must survive a core restart"
    assert cli(core, "updates", "off").returncode == 0
    assert core.stop() == 0
    core.start()
    assert enabled_via_socket(core) is False


def test_status_shows_the_supervised_node(core: CoreHarness) -> None:
    core.start()
    result = cli(core, "status", "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["instance"] == core.instance
    assert status["node"]["state"] == "running"
    assert status["node"]["pid"] in core.node_pids()
    text = cli(core, "status")
    assert text.returncode == 0
    assert f"pid {status['node']['pid']}" in text.stdout


def test_restart_command_restarts_the_node(core: CoreHarness) -> None:
    core.start()
    [before] = core.node_pids()
    result = cli(core, "restart")
    assert result.returncode == 0, result.stderr
    wait_until(lambda: core.node_pids() not in ([], [before]), 20, "a new node process")


def test_subscriber_sees_the_node_restart_after_a_crash(core: CoreHarness) -> None:
    core.start()
    [pid] = core.node_pids()
    with Client(str(core.socket_path)) as client:
        events = client.subscribe()
        kind, _time, snapshot = next(events)
        assert kind == "status" and snapshot["node"]["pid"] == pid
        os.kill(pid, signal.SIGKILL)
        seen = []
        for kind, _time, _data in events:
            seen.append(kind)
            if kind == "node-started":
                break
    assert seen.index("node-exited") < seen.index("node-started")


def test_logs_tail_returns_node_lines(core: CoreHarness) -> None:
    core.start()
    with Client(str(core.socket_path)) as client:
        lines = wait_until(lambda: client.call("logs_tail", {"lines": 3}), 10, "log lines")
    assert 0 < len(lines) <= 3
    assert all(isinstance(line, str) for line in lines)


def test_200_subscribers_of_a_real_core_see_every_toggle_in_order(core: CoreHarness) -> None:
    core.start()
    socks = subscribe_raw(core.socket_path, 200)
    toggles = 20
    try:
        first = read_events(socks, lambda got: any(m.get("type") == "response" for m in got), 30)
        with Client(str(core.socket_path)) as actor:
            for number in range(toggles):
                actor.call("set_updates", {"enabled": number % 2 == 0})
        rest = read_events(
            socks, lambda got: sum(m.get("event") == "updates-toggled" for m in got) >= toggles, 60
        )
    finally:
        for sock in socks:
            sock.close()
    expected = [number % 2 == 0 for number in range(toggles)]
    for before, after in zip(first, rest, strict=True):
        messages = before + after
        assert messages[1]["event"] == "status"
        seen = [m["data"]["enabled"] for m in messages if m.get("event") == "updates-toggled"]
        assert seen == expected


def test_core_with_an_unusable_socket_path_stops_with_one_line(core: CoreHarness) -> None:
    blocker = core.root / "not-a-dir"
    blocker.write_text("")
    core.extra["paths"] = {"socket": str(blocker / "core.sock")}
    process = core.start(wait_running=False)
    assert process.wait(30) != 0
    errors = [line for line in core.stderr_text().splitlines() if line.startswith("nodekeeper:")]
    assert len(errors) == 1 and "cannot listen on" in errors[0], core.stderr_text()
    assert "Traceback" not in core.stderr_text()
    assert core.node_pids() == []
