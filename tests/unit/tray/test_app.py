from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QUrl
from pytestqt.qtbot import QtBot

from nodekeeper.tray.app import TrayApp
from nodekeeper.tray.discovery import Endpoint
from nodekeeper.tray.model import Connection, IconState, tooltip
from nodekeeper.tray.throttle import UNREACHABLE, NotificationThrottle
from tests.unit.tray.protocol_server import ProtocolServer, sample_status, self_update_part


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def opened() -> list[QUrl]:
    return []


@pytest.fixture
def app(
    core_server: ProtocolServer, clock: Clock, opened: list[QUrl], qtbot: QtBot
) -> Iterator[TrayApp]:
    tray = TrayApp(
        [Endpoint(str(core_server.path), "core", "http://127.0.0.1:14002/")],
        throttle=NotificationThrottle(limit=3, window_s=600, grace_s=15),
        clock=clock,
        opener=opened.append,
        max_reconnect_delay=0.2,
    )
    tray.start()
    qtbot.waitUntil(lambda: tray.models[str(core_server.path)].status is not None, timeout=3000)
    yield tray
    tray.dispose()
    qtbot.wait(10)


def key(server: ProtocolServer) -> str:
    return str(server.path)


def test_connects_and_shows_node_status(app: TrayApp, core_server: ProtocolServer) -> None:
    assert app.menu.action(key(core_server), "status").text() == "Node v1.2.3 — running, up 3 d"
    assert app.icon_state is IconState.OK
    assert core_server.methods()[0] == "subscribe"  # the snapshot event carries the status


def test_toggling_automatic_updates_changes_the_core(
    app: TrayApp, core_server: ProtocolServer, qtbot: QtBot
) -> None:
    action = app.menu.action(key(core_server), "updates")
    action.trigger()
    qtbot.waitUntil(lambda: core_server.status["updates"]["enabled"] is False, timeout=2000)
    assert core_server.requests[-1]["method"] in ("set_updates", "status")
    set_request = next(r for r in core_server.requests if r["method"] == "set_updates")
    assert set_request["params"] == {"enabled": False}
    assert not action.isChecked()


def test_change_made_elsewhere_unchecks_the_item_within_a_second(
    app: TrayApp, core_server: ProtocolServer, qtbot: QtBot
) -> None:
    action = app.menu.action(key(core_server), "updates")
    assert action.isChecked()
    core_server.set_updates(False)
    qtbot.waitUntil(lambda: not action.isChecked(), timeout=1000)


def test_refused_change_puts_the_checkbox_back_and_says_why(
    app: TrayApp, core_server: ProtocolServer, qtbot: QtBot
) -> None:
    core_server.fail_methods["set_updates"] = "state.json is on a read-only filesystem"
    action = app.menu.action(key(core_server), "updates")
    action.trigger()
    qtbot.waitUntil(lambda: bool(app.shown), timeout=2000)
    assert app.shown[-1].text == "state.json is on a read-only filesystem"
    assert action.isChecked()


def test_read_only_connection_disables_control(tmp_path: Path, qtbot: QtBot) -> None:
    server = ProtocolServer(tmp_path / "ro.sock", can_control=False).start()
    tray = TrayApp([Endpoint(str(server.path), "ro")], max_reconnect_delay=0.2)
    try:
        tray.start()
        qtbot.waitUntil(lambda: tray.models[str(server.path)].status is not None, timeout=3000)
        assert not tray.menu.action(str(server.path), "updates").isEnabled()
        assert not tray.menu.action(str(server.path), "restart").isEnabled()
    finally:
        tray.dispose()
        qtbot.wait(10)
        server.stop()


def test_core_death_shows_error_and_one_notification_then_recovers(
    app: TrayApp, core_server: ProtocolServer, clock: Clock, qtbot: QtBot
) -> None:
    clock.now += 20  # past the start-up grace period
    core_server.stop()
    qtbot.waitUntil(lambda: app.icon_state is IconState.ERROR, timeout=2000)
    qtbot.wait(600)  # several failed reconnects
    assert [n.kind for n in app.shown] == [UNREACHABLE]
    core_server.start()
    qtbot.waitUntil(lambda: app.icon_state is IconState.OK, timeout=3000)
    assert app.models[key(core_server)].connection is Connection.CONNECTED


def test_no_unreachable_notification_in_the_first_15_seconds(
    app: TrayApp, core_server: ProtocolServer, clock: Clock, qtbot: QtBot
) -> None:
    clock.now += 5
    core_server.stop()
    qtbot.waitUntil(lambda: app.icon_state is IconState.ERROR, timeout=2000)
    app.tick()
    assert app.shown == []
    clock.now += 11
    app.tick()
    assert [n.kind for n in app.shown] == [UNREACHABLE]


def test_core_back_within_grace_period_is_never_reported(
    app: TrayApp, core_server: ProtocolServer, clock: Clock, qtbot: QtBot
) -> None:
    core_server.stop()
    qtbot.waitUntil(lambda: app.icon_state is IconState.ERROR, timeout=2000)
    core_server.start()
    qtbot.waitUntil(lambda: app.icon_state is IconState.OK, timeout=3000)
    clock.now += 60
    app.tick()
    assert app.shown == []


def test_event_flood_is_throttled_and_coalesced(
    app: TrayApp, core_server: ProtocolServer, clock: Clock, qtbot: QtBot
) -> None:
    for i in range(8):
        core_server.emit("update-failed", {"version": f"1.3.{i}", "reason": "hash mismatch"})
    qtbot.waitUntil(lambda: len(app.shown) == 3, timeout=2000)
    qtbot.wait(200)
    assert len(app.shown) == 3
    clock.now += 601
    app.tick()
    assert app.shown[-1].text == "Update to 1.3.7 failed: hash mismatch … and 4 more"


def test_clicking_a_crash_loop_notification_opens_the_logs_folder(
    app: TrayApp, core_server: ProtocolServer, opened: list[QUrl], qtbot: QtBot
) -> None:
    core_server.emit("crash-loop", {})
    qtbot.waitUntil(lambda: bool(app.shown), timeout=2000)
    app.open_notification(app.shown[-1])
    assert opened == [QUrl.fromLocalFile(sample_status()["logs"]["dir"])]


def test_open_dashboard_opens_the_configured_url(
    app: TrayApp, core_server: ProtocolServer, opened: list[QUrl]
) -> None:
    app.menu.action(key(core_server), "dashboard").trigger()
    assert opened == [QUrl("http://127.0.0.1:14002/")]


def test_check_now_reports_the_decision(
    app: TrayApp, core_server: ProtocolServer, qtbot: QtBot
) -> None:
    core_server.check_result = {"action": "notify", "target": "1.3.0", "reason": "updates are off"}
    app.menu.action(key(core_server), "check").trigger()
    qtbot.waitUntil(lambda: bool(app.shown), timeout=2000)
    assert (
        app.shown[-1].text == "Update 1.3.0 available; automatic updates are off (updates are off)"
    )


def test_restart_node_sends_the_request(
    app: TrayApp, core_server: ProtocolServer, qtbot: QtBot
) -> None:
    app.menu.action(key(core_server), "restart").trigger()
    qtbot.waitUntil(lambda: core_server.status["node"]["restarts"] == 1, timeout=2000)


def test_garbage_from_the_core_is_ignored_not_fatal(tmp_path: Path, qtbot: QtBot) -> None:
    server = ProtocolServer(tmp_path / "bad.sock")
    server.raw_after_hello = [
        b"not json\n",
        b'{"type": "event"}\n',
        b'{"type": "response", "id": 99}\n',
    ]
    server.start()
    tray = TrayApp([Endpoint(str(server.path), "bad")], max_reconnect_delay=0.2)
    try:
        tray.start()
        qtbot.waitUntil(lambda: tray.icon_state is IconState.OK, timeout=3000)
    finally:
        tray.dispose()
        qtbot.wait(10)
        server.stop()


def test_missing_socket_is_an_unreachable_instance(tmp_path: Path, qtbot: QtBot) -> None:
    tray = TrayApp([Endpoint(str(tmp_path / "none.sock"), "none")], max_reconnect_delay=0.2)
    try:
        tray.start()
        qtbot.waitUntil(lambda: tray.icon_state is IconState.ERROR, timeout=2000)
        assert (
            tray.menu.action(str(tmp_path / "none.sock"), "status").text()
            == "Core not reachable — retrying"
        )
    finally:
        tray.dispose()
        qtbot.wait(10)


def test_every_instance_found_gets_a_submenu_and_the_worst_state_wins(
    tmp_path: Path, qtbot: QtBot
) -> None:
    alpha = ProtocolServer(tmp_path / "alpha.sock", sample_status("alpha")).start()
    beta = ProtocolServer(tmp_path / "beta.sock", sample_status("beta")).start()
    endpoints = [Endpoint(str(s.path), s.path.stem) for s in (alpha, beta)]
    tray = TrayApp(endpoints, max_reconnect_delay=0.2)
    try:
        tray.start()
        qtbot.waitUntil(lambda: tray.icon_state is IconState.OK, timeout=3000)
        alpha_menu = tray.menu.submenu(str(alpha.path))
        assert alpha_menu is not None and alpha_menu.title().startswith("alpha — Node v1.2.3")
        beta.stop()
        qtbot.waitUntil(lambda: tray.icon_state is IconState.ERROR, timeout=2000)
        assert tray.menu.action(str(alpha.path), "updates").isEnabled()
        assert "beta: Core not reachable" in tooltip(list(tray.models.values()))
    finally:
        tray.dispose()
        qtbot.wait(10)
        alpha.stop()
        beta.stop()


def test_a_core_started_after_the_tray_is_picked_up_by_rescanning(
    tmp_path: Path, qtbot: QtBot
) -> None:
    found: list[Endpoint] = []
    tray = TrayApp([], rescan=lambda: found, max_reconnect_delay=0.2)
    server = ProtocolServer(tmp_path / "late.sock")
    try:
        tray.start()
        assert tray.icon_state is IconState.ERROR
        server.start()
        found.append(Endpoint(str(server.path), "late"))
        tray.rescan()
        qtbot.waitUntil(lambda: tray.icon_state is IconState.OK, timeout=3000)
        tray.rescan()
        assert len(tray.connections) == 1
    finally:
        tray.dispose()
        qtbot.wait(10)
        server.stop()


@pytest.mark.parametrize("dashboard", ["file:///C:/Windows/System32/calc.exe", "ms-settings:"])
def test_a_logs_folder_that_is_a_program_and_a_non_web_dashboard_are_not_opened(
    tmp_path: Path, qtbot: QtBot, dashboard: str
) -> None:
    program = tmp_path / "storagenode.exe"
    program.write_bytes(b"MZ")
    server = ProtocolServer(tmp_path / "evil.sock", sample_status(logs_dir=str(program))).start()
    opened: list[QUrl] = []
    tray = TrayApp([Endpoint(str(server.path), "evil", dashboard)], opener=opened.append)
    try:
        tray.start()
        qtbot.waitUntil(lambda: tray.models[str(server.path)].status is not None, timeout=3000)
        tray.menu.action(str(server.path), "logs").trigger()
        tray.menu.action(str(server.path), "dashboard").trigger()
        assert opened == []
        assert len(tray.refused) == 2
        assert "not an existing folder" in tray.refused[0]
        assert "only http(s) web pages" in tray.refused[1]
    finally:
        tray.dispose()
        qtbot.wait(10)
        server.stop()


def test_the_core_toggle_switches_only_the_cores_own_updates(tmp_path: Path, qtbot: QtBot) -> None:
    server = ProtocolServer(tmp_path / "su.sock").start()
    server.status["self_update"] = self_update_part()
    tray = TrayApp([Endpoint(str(server.path), "su")], max_reconnect_delay=0.2)
    try:
        tray.start()
        qtbot.waitUntil(lambda: tray.models[str(server.path)].status is not None, timeout=3000)
        action = tray.menu.action(str(server.path), "self-updates")
        assert action.isChecked()
        assert tray.menu.action(str(server.path), "core").text().startswith("Core v0.1.0")
        action.trigger()
        qtbot.waitUntil(lambda: server.status["self_update"]["enabled"] is False, timeout=2000)
        request = next(r for r in server.requests if r["method"] == "set_updates")
        assert request["params"] == {"enabled": False, "core": True}
        assert server.status["updates"]["enabled"] is True
        qtbot.waitUntil(lambda: not action.isChecked(), timeout=2000)
        assert tray.menu.action(str(server.path), "updates").isChecked()
    finally:
        tray.dispose()
        server.stop()
