"""The control server's per-connection behaviour, served in-process (no sockets, no processes).

Each test runs a real :class:`ControlServer` (never started: nothing
listens) and drives connections through
:meth:`ControlServer.serve_connection` with in-memory peers
(``tests/unit/ipc/memory.py``) and fake peer credentials.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from nodekeeper.core.errors import OperationFailed
from nodekeeper.core.events import Event, EventBus
from nodekeeper.core.ipc.peercred import AccessPolicy, GroupEntry, UserEntry
from nodekeeper.core.ipc.server import ControlServer, bind_handlers
from tests.unit.ipc.memory import MemoryPeer, PeerSocket

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="fake credentials answer like SO_PEERCRED"
)

CORE_UID = 990
GROUP_GID = 500
TIME = "2026-11-27T05:00:00.000Z"


class Handlers:
    """The core's side, with a little state so requests visibly take effect."""

    def __init__(self) -> None:
        self.enabled = True
        self.calls: list[str] = []
        self.check: Callable[[], Awaitable[dict[str, Any]]] | None = None
        self.status_gate: asyncio.Event | None = None
        self.lines = [f"line {n}" for n in range(50)]

    async def status(self) -> dict[str, Any]:
        self.calls.append("status")
        if self.status_gate is not None:
            await self.status_gate.wait()
        return {"updates": {"enabled": self.enabled}}

    async def set_updates(self, enabled: bool) -> dict[str, Any]:
        self.calls.append("set_updates")
        self.enabled = enabled
        return {"enabled": enabled}

    async def check_now(self) -> dict[str, Any]:
        self.calls.append("check_now")
        if self.check is not None:
            return await self.check()
        return {"action": "none", "target": None, "reason": "up to date"}

    async def restart_node(self) -> dict[str, Any]:
        self.calls.append("restart_node")
        return {"restarting": True}

    async def stop_node(self) -> dict[str, Any]:
        self.calls.append("stop_node")
        return {"state": "stopped", "stopped_by_operator": True}

    async def start_node(self) -> dict[str, Any]:
        self.calls.append("start_node")
        return {"state": "starting", "stopped_by_operator": False}

    async def roll_back_core(self, dry_run: bool = False) -> dict[str, Any]:
        self.calls.append("roll_back_core")
        return {"from": "0.2.1", "to": "0.2.0", "node_pid": 7, "dry_run": dry_run}

    async def reload(self, restart_node: bool) -> dict[str, Any]:
        return {"summary": "configuration unchanged", "node_restarted": False}

    async def logs_tail(self, lines: int) -> list[str]:
        return self.lines[-lines:] if lines else []


def make_server(handlers: Handlers, max_buffered: int = 1024 * 1024) -> ControlServer:
    policy = AccessPolicy(
        core_uid=CORE_UID,
        lookup_group=lambda name: GroupEntry(GROUP_GID, ("alice",)),
        lookup_user=lambda uid: {1001: UserEntry("alice", 1001)}.get(uid),
    )
    return ControlServer(
        "/nonexistent/never-bound.sock",
        handlers,
        EventBus(),
        instance="sn",
        core_version="0.1.0",
        policy=policy,
        max_buffered=max_buffered,
        clock=lambda: TIME,
    )


def run(test: Callable[[ControlServer, Handlers], Awaitable[None]], **options: Any) -> Handlers:
    handlers = Handlers()

    async def main() -> None:
        server = make_server(handlers, **options)
        try:
            await asyncio.wait_for(test(server, handlers), 10)
        finally:
            await server.close()

    asyncio.run(main())
    return handlers


def own_user() -> PeerSocket:
    return PeerSocket(uid=CORE_UID, gid=CORE_UID)


def stranger() -> PeerSocket:
    return PeerSocket(uid=2000, gid=2000)


@pytest.mark.parametrize(
    ("sock", "allowed"),
    [
        (PeerSocket(uid=0, gid=0), True),
        (PeerSocket(uid=CORE_UID, gid=1), True),
        (PeerSocket(uid=1001, gid=1001), True),  # alice: listed in group nodekeeper
        (PeerSocket(uid=1002, gid=GROUP_GID), True),  # current gid is the group
        (PeerSocket(uid=2000, gid=2000), False),
        (PeerSocket(uid=0, gid=0, fail=True), False),  # cannot tell: read-only
    ],
)
def test_hello_comes_first_and_grants_control_from_peer_credentials(
    sock: PeerSocket, allowed: bool
) -> None:
    async def test(server: ControlServer, _handlers: Handlers) -> None:
        peer = MemoryPeer(server, socket=sock)
        hello = await peer.read()
        assert hello == {
            "type": "hello",
            "protocol": 1,
            "core_version": "0.1.0",
            "instance": "sn",
            "can_control": allowed,
        }
        await peer.close()

    run(test)


def test_a_pipe_client_is_judged_by_its_token_and_no_socket_means_read_only() -> None:
    async def test(server: ControlServer, _handlers: Handlers) -> None:
        pipe_admin = MemoryPeer(server, peer_can_control=True)
        nobody = MemoryPeer(server)
        assert (await pipe_admin.read())["can_control"] is True
        assert (await nobody.read())["can_control"] is False

    run(test)


def test_read_only_clients_are_refused_changes_and_the_core_is_not_touched() -> None:
    async def test(server: ControlServer, _handlers: Handlers) -> None:
        peer = MemoryPeer(server, socket=stranger())
        await peer.read()
        peer.request(1, "set_updates", enabled=False)
        peer.request(2, "status")
        refused, status = await peer.read(), await peer.read()
        assert (refused["id"], refused["error"]["code"]) == (1, "forbidden")
        assert status == {
            "type": "response",
            "id": 2,
            "ok": True,
            "result": {"updates": {"enabled": True}},
        }

    handlers = run(test)
    assert handlers.calls == ["status"] and handlers.enabled is True


def test_requests_are_answered_in_order_and_bad_lines_keep_the_connection() -> None:
    async def test(server: ControlServer, _handlers: Handlers) -> None:
        peer = MemoryPeer(server, socket=own_user())
        await peer.read()
        peer.send(b"not json\n" + b"x" * 70_000 + b"\n")
        peer.request(1, "set_updates", enabled=False)
        peer.request(2, "reboot")
        peer.request(3, "restart_node")
        answers = [await peer.read() for _ in range(5)]
        assert [(a["id"], a["ok"]) for a in answers] == [
            (None, False),
            (None, False),
            (1, True),
            (2, False),
            (3, True),
        ]
        assert [a["error"]["code"] for a in answers if not a["ok"]] == [
            "bad_request",
            "bad_request",
            "unknown_method",
        ]

    handlers = run(test)
    assert handlers.calls == ["set_updates", "restart_node"] and handlers.enabled is False


def test_failing_handlers_answer_failed_or_internal_and_serving_goes_on() -> None:
    async def test(server: ControlServer, handlers: Handlers) -> None:
        peer = MemoryPeer(server, socket=own_user())
        await peer.read()

        async def unreachable() -> dict[str, Any]:
            raise OperationFailed("cannot reach the release source")

        handlers.check = unreachable
        peer.request(1, "check_now")
        failed = await peer.read()
        assert failed["error"] == {"code": "failed", "message": "cannot reach the release source"}

        async def bug() -> dict[str, Any]:
            raise RuntimeError("boom\nsecond line")

        handlers.check = bug
        peer.request(2, "check_now")
        internal = await peer.read()
        assert internal["error"]["code"] == "internal"
        assert "RuntimeError: boom second line" in internal["error"]["message"]
        peer.request(3, "status")
        assert (await peer.read())["ok"] is True

    run(test)


def test_logs_tail_passes_the_checked_line_count_and_trims_to_one_response() -> None:
    async def test(server: ControlServer, handlers: Handlers) -> None:
        peer = MemoryPeer(server, socket=stranger())
        await peer.read()
        peer.request(1, "logs_tail", lines=2)
        assert (await peer.read())["result"] == ["line 48", "line 49"]
        handlers.lines = ["y" * 1000 for _ in range(200)]
        peer.request(2, "logs_tail", lines=200)
        result = (await peer.read())["result"]
        assert 0 < len(result) < 200

    run(test)


def test_subscribers_get_snapshot_response_then_events_in_order_none_lost() -> None:
    async def test(server: ControlServer, handlers: Handlers) -> None:
        peer = MemoryPeer(server, socket=stranger())
        bystander = MemoryPeer(server, socket=stranger())
        await peer.read()
        await bystander.read()
        server.broadcast(Event("node-started", {"n": 0}, TIME))  # before subscribing: not sent
        handlers.status_gate = asyncio.Event()
        peer.request(5, "subscribe")
        while "status" not in handlers.calls:  # the snapshot is being taken ...
            await asyncio.sleep(0)
        server.broadcast(Event("update-progress", {"n": 1}, TIME))  # ... meanwhile
        handlers.status_gate.set()
        snapshot, response, held = await peer.read(), await peer.read(), await peer.read()
        assert snapshot == {
            "type": "event",
            "event": "status",
            "time": TIME,
            "data": {"updates": {"enabled": True}},
        }
        assert response == {"type": "response", "id": 5, "ok": True, "result": {"subscribed": True}}
        assert (held["event"], held["data"]) == ("update-progress", {"n": 1})
        server.broadcast(Event("node-exited", {"n": 2}, TIME))
        assert (await peer.read())["data"] == {"n": 2}
        bystander.request(1, "status")
        assert (await bystander.read())["type"] == "response"  # no events for non-subscribers

    run(test)


def test_a_client_that_does_not_read_is_dropped_without_stalling_others() -> None:
    async def test(server: ControlServer, _handlers: Handlers) -> None:
        sleeper = MemoryPeer(server, socket=stranger())
        reader = MemoryPeer(server, socket=stranger())
        for peer in (sleeper, reader):
            peer.request(1, "subscribe")
        for _ in range(3):  # hello, snapshot, response
            await reader.read()
        while server.client_count and not sleeper.transport.unread.count(b"subscribed"):
            await asyncio.sleep(0)
        for number in range(200):
            server.broadcast(Event("update-progress", {"n": number, "pad": "x" * 100}, TIME))
            assert (await reader.read())["data"]["n"] == number
        assert sleeper.transport.aborted
        await sleeper.task  # its connection ended
        assert server.client_count == 1

    run(test, max_buffered=8 * 1024)


def test_events_piling_up_during_a_slow_snapshot_drop_the_client() -> None:
    async def test(server: ControlServer, handlers: Handlers) -> None:
        peer = MemoryPeer(server, socket=stranger())
        await peer.read()
        handlers.status_gate = asyncio.Event()
        peer.request(1, "subscribe")
        while "status" not in handlers.calls:
            await asyncio.sleep(0)
        for number in range(50):
            server.broadcast(Event("update-progress", {"n": number, "pad": "x" * 100}, TIME))
        assert peer.transport.aborted
        handlers.status_gate.set()
        await peer.task
        assert server.client_count == 0

    run(test, max_buffered=2 * 1024)


def test_a_client_that_leaves_is_forgotten() -> None:
    async def test(server: ControlServer, _handlers: Handlers) -> None:
        peer = MemoryPeer(server, socket=own_user())
        await peer.read()
        assert server.client_count == 1
        await peer.close()
        assert server.client_count == 0 and peer.transport.aborted

    run(test)


def test_closing_the_server_ends_every_connection() -> None:
    async def test(server: ControlServer, _handlers: Handlers) -> None:
        peers = [MemoryPeer(server, socket=own_user()) for _ in range(3)]
        for peer in peers:
            await peer.read()
        await server.close()
        assert server.client_count == 0
        assert all(peer.task.done() and peer.transport.aborted for peer in peers)

    run(test)


def test_every_method_the_core_answers_needs_a_handler() -> None:
    class Partial:
        async def status(self) -> dict[str, Any]:
            return {}

    with pytest.raises(TypeError, match="no handler for control method 'logs_tail'"):
        bind_handlers(Partial())
    handlers = Handlers()
    bound = bind_handlers({name: getattr(handlers, name) for name in bind_handlers(handlers)})
    assert set(bound) == {
        "status",
        "logs_tail",
        "set_updates",
        "check_now",
        "roll_back_core",
        "restart_node",
        "stop_node",
        "start_node",
        "reload",
    }
