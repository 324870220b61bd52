"""The control socket and the client CLI against a real server process."""

from __future__ import annotations

import grp
import json
import os
import socket
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from nodekeeper.core.errors import CoreUnreachable
from nodekeeper.core.ipc.client import Client, RequestFailed
from tests.helpers import run_cli
from tests.integration.ipc.support import FakeCore, RawClient, read_events, subscribe_raw


@pytest.fixture
def fake_core(tmp_path: Path) -> Iterator[FakeCore]:
    core = FakeCore(tmp_path / "core.sock")
    try:
        yield core
    finally:
        core.stop()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args)


def test_hello_grants_control_to_the_cores_own_user(fake_core: FakeCore) -> None:
    with Client(str(fake_core.path)) as client:
        assert client.can_control is True
        assert (client.instance, client.core_version) == ("fake", "0.1.0")


def test_status_json_prints_the_status_object(fake_core: FakeCore) -> None:
    result = cli("status", "--socket", str(fake_core.path), "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["node"]["version"] == "1.2.3"
    assert status["updates"]["enabled"] is True


def test_status_summary_is_readable(fake_core: FakeCore) -> None:
    result = cli("status", "--socket", str(fake_core.path))
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for expected in (
        "running",
        "version 1.2.3",
        "pid 4242",
        "up 1h 2m",
        "0 restarts",
        "updates   on, idle",
        "last check 2026-11-27T05:00:00Z",
        "last error: none",
        "/var/log/fake (2.0 KiB), 0 dropped lines",
    ):
        assert expected in text, f"{expected!r} missing from:\n{text}"


def test_updates_off_and_on_change_the_cores_state(fake_core: FakeCore) -> None:
    result = cli("updates", "off", "--socket", str(fake_core.path))
    assert result.returncode == 0, result.stderr
    assert "automatic updates are off" in result.stdout
    with Client(str(fake_core.path)) as client:
        assert client.call("status")["updates"]["enabled"] is False
    assert cli("updates", "on", "--socket", str(fake_core.path)).returncode == 0
    with Client(str(fake_core.path)) as client:
        assert client.call("status")["updates"]["enabled"] is True


def test_check_json_prints_the_decision(fake_core: FakeCore) -> None:
    result = cli("check", "--json", "--socket", str(fake_core.path))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "action": "update",
        "target": "1.3.0",
        "reason": "rollout candidate",
    }
    text = cli("check", "--socket", str(fake_core.path))
    assert text.stdout.strip() == "updating to 1.3.0: rollout candidate"


def test_failed_check_is_one_line_and_exit_1(fake_core: FakeCore) -> None:
    fake_core.command("fail check")
    result = cli("check", "--socket", str(fake_core.path))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "nodekeeper: check_now: cannot reach the release source (connection refused)"
    ]


def test_handler_bug_answers_internal_and_the_core_keeps_serving(fake_core: FakeCore) -> None:
    fake_core.command("crash check")
    with Client(str(fake_core.path)) as client:
        with pytest.raises(RequestFailed) as caught:
            client.call("check_now")
        assert caught.value.code == "internal"
        assert "RuntimeError: boom second line" in str(caught.value)
        assert client.call("status")["node"]["state"] == "running"
    assert fake_core.alive()


def test_restart_reaches_the_core(fake_core: FakeCore) -> None:
    result = cli("restart", "--socket", str(fake_core.path))
    assert result.returncode == 0, result.stderr
    with Client(str(fake_core.path)) as client:
        assert client.call("status")["node"]["restarts"] == 1


def test_logs_tail_returns_the_newest_lines(fake_core: FakeCore) -> None:
    with Client(str(fake_core.path)) as client:
        assert client.call("logs_tail", {"lines": 2}) == ["line 48", "line 49"]


def test_no_core_means_exit_3_with_how_to_start_it(tmp_path: Path) -> None:
    result = cli("status", "--socket", str(tmp_path / "nothing.sock"))
    assert result.returncode == 3
    [line] = result.stderr.strip().splitlines()
    assert "no core is running" in line and "nodekeeper run --config FILE" in line
    with pytest.raises(CoreUnreachable):
        Client(str(tmp_path / "nothing.sock"))


def test_config_names_the_socket(fake_core: FakeCore, tmp_path: Path) -> None:
    config = tmp_path / "node.toml"
    config.write_text(
        'instance = "fake"\n[node]\ncommand = ["/bin/true"]\n'
        f'[paths]\ndata_dir = "{tmp_path / "data"}"\nsocket = "{fake_core.path}"\n'
    )
    result = cli("status", "--config", str(config), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["instance"] == "fake"


def test_bad_config_is_one_line_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("instance = 5\n")
    result = cli("status", "--config", str(config))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1


def test_malformed_lines_get_bad_request_and_the_connection_stays(fake_core: FakeCore) -> None:
    raw = RawClient(fake_core.path)
    raw.send(b"garbage\n\xff\xfe\n" + b'{"type":"request","id":3,"method":"reboot"}\n')
    answers = [raw.read() for _ in range(3)]
    assert [a["error"]["code"] for a in answers] == ["bad_request", "bad_request", "unknown_method"]
    assert answers[2]["id"] == 3
    raw.request(4, "status")
    assert raw.read()["ok"] is True
    raw.close()


def test_socket_is_mode_0660(fake_core: FakeCore) -> None:
    info = os.stat(fake_core.path)
    assert stat.S_ISSOCK(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o660


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="groupadd needs root")
def test_socket_belongs_to_group_nodekeeper_when_it_exists(tmp_path: Path) -> None:
    created = _ensure_group("nodekeeper")
    try:
        core = FakeCore(tmp_path / "g.sock")
        try:
            assert os.stat(core.path).st_gid == grp.getgrnam("nodekeeper").gr_gid
        finally:
            core.stop()
    finally:
        if created:
            subprocess.run(["groupdel", "nodekeeper"], check=False)


def test_stale_socket_is_replaced_and_a_live_one_is_not(tmp_path: Path) -> None:
    path = tmp_path / "core.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens
    core = FakeCore(path)
    try:
        with Client(str(path)) as client:
            assert client.call("status")["instance"] == "fake"
        with pytest.raises(AssertionError, match="another core is already listening"):
            FakeCore(path)
        assert core.alive()
    finally:
        core.stop()
    assert not path.exists(), "a core removes its socket when it closes"


def test_a_regular_file_in_the_way_is_reported_not_deleted(tmp_path: Path) -> None:
    path = tmp_path / "core.sock"
    path.write_text("keep me")
    with pytest.raises(AssertionError, match="exists and is not a socket"):
        FakeCore(path)
    assert path.read_text() == "keep me"


def test_subscribe_sends_the_snapshot_first_then_every_event_in_order(fake_core: FakeCore) -> None:
    with Client(str(fake_core.path)) as client:
        events = client.subscribe()
        kind, _time, snapshot = next(events)
        assert kind == "status" and snapshot["node"]["state"] == "running"
        fake_core.command("publish 300")
        numbers = []
        for kind, _time, data in events:
            assert kind == "update-progress"
            numbers.append(data["n"])
            if len(numbers) == 300:
                break
        assert numbers == list(range(300))


def test_set_updates_event_reaches_subscribers(fake_core: FakeCore) -> None:
    with Client(str(fake_core.path)) as watcher, Client(str(fake_core.path)) as actor:
        events = watcher.subscribe()
        next(events)
        actor.call("set_updates", {"enabled": False})
        kind, _time, data = next(events)
        assert (kind, data) == ("updates-toggled", {"enabled": False})


def test_200_concurrent_subscribers_each_receive_every_event_in_order(fake_core: FakeCore) -> None:
    events = 500
    socks = subscribe_raw(fake_core.path, 200)
    try:
        # Everyone is subscribed once their response arrived.
        first = read_events(socks, lambda got: any(m.get("type") == "response" for m in got), 30)
        fake_core.command(f"publish {events}")
        rest = read_events(
            socks,
            lambda got: sum(m.get("event") == "update-progress" for m in got) >= events,
            120,
        )
    finally:
        for sock in socks:
            sock.close()
    for before, after in zip(first, rest, strict=True):
        messages = before + after
        kinds = [m.get("event") or m["type"] for m in messages]
        assert kinds[:3] == ["hello", "status", "response"], kinds[:3]
        numbers = [m["data"]["n"] for m in messages if m.get("event") == "update-progress"]
        assert numbers == list(range(events))


def _ensure_group(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return False
    except KeyError:
        subprocess.run(["groupadd", name], check=True)
        return True


def test_a_slow_request_does_not_hold_up_other_clients(fake_core: FakeCore) -> None:
    fake_core.command("hold check")
    waiting = RawClient(fake_core.path)
    waiting.request(1, "check_now")
    with Client(str(fake_core.path)) as other:
        assert other.call("status")["node"]["state"] == "running"
        events = other.subscribe()
        assert next(events)[0] == "status"
    fake_core.command("release check")
    answer = waiting.read()
    assert (answer["id"], answer["ok"]) == (1, True)
    waiting.close()


def test_unusable_socket_path_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(AssertionError, match=r"cannot listen on .*not-a-dir/core.sock: "):
        FakeCore(blocker / "core.sock")
