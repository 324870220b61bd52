from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from nodekeeper.tray.connection import CoreConnection, reconnect_delay
from nodekeeper.tray.model import NodeStatus
from tests.unit.tray.protocol_server import ProtocolServer


def test_reconnect_delay_doubles_up_to_the_cap() -> None:
    delays = [reconnect_delay(n, base=0.5, cap=10) for n in range(8)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]


def test_reconnect_jitter_only_shortens_and_never_below_three_quarters() -> None:
    assert reconnect_delay(3, jitter=0.999) >= 0.75 * reconnect_delay(3)
    assert reconnect_delay(3, jitter=0.5) < reconnect_delay(3)


def test_status_snapshot_arrives_after_hello(core_server: ProtocolServer, qtbot: QtBot) -> None:
    connection = CoreConnection(str(core_server.path))
    statuses: list[NodeStatus] = []
    connection.statusReceived.connect(statuses.append)
    with qtbot.waitSignal(connection.helloReceived, timeout=2000) as hello:
        connection.start()
    assert hello.args is not None and hello.args[0]["can_control"] is True
    qtbot.waitUntil(lambda: bool(statuses), timeout=2000)
    assert statuses[0].node_version == "1.2.3"
    connection.stop()


def test_request_on_a_dead_connection_fails_once_without_blocking(
    tmp_path: Path, qtbot: QtBot
) -> None:
    connection = CoreConnection(str(tmp_path / "absent.sock"), max_delay=0.1)
    replies: list[tuple[bool, object]] = []
    connection.start()
    connection.request("restart_node", reply=lambda ok, res: replies.append((ok, res)))
    qtbot.waitUntil(lambda: bool(replies), timeout=1000)
    qtbot.wait(50)
    assert replies == [(False, "core not reachable")]
    connection.stop()


def test_core_with_another_protocol_version_is_refused(tmp_path: Path, qtbot: QtBot) -> None:
    import socket
    import threading

    path = tmp_path / "v2.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen()

    def serve() -> None:
        conn, _ = listener.accept()
        conn.sendall(
            b'{"type":"hello","protocol":2,"core_version":"9","instance":"x","can_control":true}\n'
        )
        conn.recv(100)
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    connection = CoreConnection(str(path), max_delay=5)
    problems: list[str] = []
    connection.problem.connect(problems.append)
    connection.start()
    qtbot.waitUntil(lambda: bool(problems), timeout=2000)
    assert "protocol 2" in problems[0] and "\n" not in problems[0]
    assert not connection.is_ready
    connection.stop()
    listener.close()
    thread.join(2)


def test_status_changes_without_an_event_are_picked_up_by_polling(
    core_server: ProtocolServer, qtbot: QtBot
) -> None:
    connection = CoreConnection(str(core_server.path), poll_ms=100)
    statuses: list[NodeStatus] = []
    connection.statusReceived.connect(statuses.append)
    connection.start()
    qtbot.waitUntil(lambda: bool(statuses), timeout=2000)
    core_server.status["node"]["state"] = "stopped"
    qtbot.waitUntil(lambda: statuses[-1].node_state == "stopped", timeout=2000)
    connection.stop()


def test_a_core_that_stops_answering_is_dropped_and_retried(tmp_path: Path, qtbot: QtBot) -> None:
    import socket
    import threading

    path = tmp_path / "hung.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen()
    accepted: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(conn)
            conn.sendall(
                b'{"type":"hello","protocol":1,"core_version":"0","instance":"x","can_control":true}\n'
            )

    threading.Thread(target=serve, daemon=True).start()
    connection = CoreConnection(str(path), max_delay=0.1, request_timeout_ms=300)
    lost: list[str] = []
    connection.connectionLost.connect(lost.append)
    connection.start()
    qtbot.waitUntil(lambda: bool(lost), timeout=3000)
    assert lost[0] == "subscribe: no answer from the core"
    qtbot.waitUntil(lambda: len(accepted) >= 2, timeout=3000)
    connection.stop()
    listener.close()
    for conn in accepted:
        conn.close()


def test_a_steady_stream_of_events_still_refreshes_the_status(
    core_server: ProtocolServer, qtbot: QtBot
) -> None:
    connection = CoreConnection(str(core_server.path), poll_ms=60_000)
    connection.start()
    qtbot.waitUntil(lambda: "subscribe" in core_server.methods(), timeout=2000)
    for _ in range(20):
        core_server.emit("node-unhealthy", {"detail": "timeout"})
        core_server.emit("update-progress", {"bytes": 1})
        qtbot.wait(50)
    assert core_server.methods().count("status") >= 2
    connection.stop()


def test_progress_events_alone_do_not_ask_for_the_status(
    core_server: ProtocolServer, qtbot: QtBot
) -> None:
    connection = CoreConnection(str(core_server.path), poll_ms=60_000)
    events: list[str] = []
    connection.eventReceived.connect(lambda kind, _data: events.append(kind))
    connection.start()
    qtbot.waitUntil(lambda: "subscribe" in core_server.methods(), timeout=2000)
    for _ in range(5):
        core_server.emit("update-progress", {"bytes": 1})
    qtbot.waitUntil(lambda: len(events) == 5, timeout=2000)
    qtbot.wait(300)
    assert "status" not in core_server.methods()
    connection.stop()


def test_a_request_the_methods_table_refuses_never_reaches_the_core(
    core_server: ProtocolServer, qtbot: QtBot
) -> None:
    connection = CoreConnection(str(core_server.path))
    problems: list[str] = []
    replies: list[tuple[bool, object]] = []
    connection.problem.connect(problems.append)
    with qtbot.waitSignal(connection.helloReceived, timeout=2000):
        connection.start()
    connection.request("set_updates", {"enabled": "yes"}, lambda ok, res: replies.append((ok, res)))
    connection.request("reboot", reply=lambda ok, res: replies.append((ok, res)))
    qtbot.waitUntil(lambda: len(replies) == 2, timeout=1000)
    assert replies == [
        (False, "set_updates: 'enabled' must be true or false (got 'yes')"),
        (False, "reboot: unknown method"),
    ]
    assert len(problems) == 2
    assert not {"set_updates", "reboot"} & set(core_server.methods())
    connection.stop()


def test_a_server_the_check_distrusts_gets_nothing_and_is_reported(
    core_server: ProtocolServer, qtbot: QtBot
) -> None:
    checked: list[tuple[str, int]] = []

    def squatter(path: str, handle: int) -> str | None:
        checked.append((path, handle))
        return f"{path} is served by pid 6120 running as S-1-5-21-1-2-3-1002; not connecting"

    connection = CoreConnection(str(core_server.path), max_delay=5, check_server=squatter)
    problems: list[str] = []
    hellos: list[dict[str, object]] = []
    connection.problem.connect(problems.append)
    connection.helloReceived.connect(hellos.append)
    connection.start()
    qtbot.waitUntil(lambda: bool(problems), timeout=2000)
    qtbot.wait(100)
    assert "pid 6120" in problems[0] and "\n" not in problems[0]
    assert checked[0][0] == str(core_server.path) and checked[0][1] >= 0
    assert hellos == [] and not connection.is_ready
    assert core_server.requests == []
    connection.stop()
