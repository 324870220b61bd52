"""The Windows named-pipe server, driven through a stand-in for the Win32 calls.

The stand-in backs each pipe instance with a socketpair, so the real
listener, transport and ControlServer run end to end on any OS; only the
ctypes bindings themselves need Windows.
"""

from __future__ import annotations

import asyncio
import json
import queue
import socket
from typing import Any

import pytest

from nodekeeper.core.errors import OperationFailed, UsageError
from nodekeeper.core.events import EventBus
from nodekeeper.core.ipc.server import ControlServer
from nodekeeper.core.platform.winpipe import (
    SYSTEM_SID,
    ClientToken,
    may_control,
    pipe_name,
    pipe_sddl,
)

OWN_SID = "S-1-5-80-1234-5678"
USER_SID = "S-1-5-21-1-2-3-1001"


def test_pipe_name_follows_the_instance() -> None:
    assert pipe_name("storagenode") == "\\\\.\\pipe\\nodekeeper-storagenode"
    with pytest.raises(UsageError):
        pipe_name("../evil")


def test_security_descriptor_grants_system_admins_full_and_interactive_read_write() -> None:
    assert pipe_sddl() == "D:P(A;;GA;;;S-1-5-18)(A;;GA;;;S-1-5-32-544)(A;;GRGW;;;IU)"
    assert pipe_sddl(SYSTEM_SID) == pipe_sddl()
    assert pipe_sddl(OWN_SID).endswith(f"(A;;GA;;;{OWN_SID})")
    with pytest.raises(ValueError):
        pipe_sddl("S-1-5-18)(A;;GA;;;WD")  # an injected entry for Everyone


@pytest.mark.parametrize(
    ("token", "allowed"),
    [
        (ClientToken(SYSTEM_SID, False), True),
        (ClientToken(OWN_SID, False), True),
        (ClientToken(USER_SID, True), True),
        (ClientToken(USER_SID, False), False),
    ],
)
def test_control_from_the_client_token(token: ClientToken, allowed: bool) -> None:
    assert may_control(token, OWN_SID) is allowed


class SocketPipes:
    """PipeApi stand-in: every instance is a socketpair; ``connect()`` plays the client."""

    def __init__(self, token: ClientToken) -> None:
        self.token = token
        self.sddls: list[str] = []
        self.names: set[str] = set()
        self._waiting: dict[int, queue.Queue[bool]] = {}
        self._ends: dict[int, socket.socket] = {}
        self._free: queue.Queue[int] = queue.Queue()
        self._next = 100
        self.closed: list[int] = []

    def own_user_sid(self) -> str:
        return OWN_SID

    def create_pipe(self, name: str, sddl: str, first: bool) -> int:
        if first and name in self.names:
            raise OSError("ERROR_ACCESS_DENIED: the pipe exists")
        self.names.add(name)
        self.sddls.append(sddl)
        handle, self._next = self._next, self._next + 1
        self._waiting[handle] = queue.Queue()
        self._free.put(handle)
        return handle

    def wait_for_client(self, handle: int) -> None:
        if not self._waiting[handle].get(timeout=10):
            raise OSError("aborted")

    def client_token(self, handle: int) -> ClientToken:
        return self.token

    def read(self, handle: int, size: int) -> bytes:
        try:
            return self._ends[handle].recv(size)
        except OSError:
            return b""

    def write(self, handle: int, data: bytes) -> None:
        self._ends[handle].sendall(data)

    def close(self, handle: int) -> None:
        self.closed.append(handle)
        end = self._ends.get(handle)
        if end is not None:
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cancel_wait(self, name: str) -> None:
        for waiting in self._waiting.values():
            waiting.put(False)

    def connect(self) -> socket.socket:
        handle = self._free.get(timeout=5)
        server_end, client_end = socket.socketpair()
        self._ends[handle] = server_end
        self._waiting[handle].put(True)
        client_end.settimeout(10)
        return client_end


class Handlers:
    def __init__(self) -> None:
        self.enabled = True

    async def status(self) -> dict[str, Any]:
        return {"instance": "sn", "updates": {"enabled": self.enabled}}

    async def set_updates(self, enabled: bool) -> dict[str, Any]:
        self.enabled = enabled
        return {"enabled": enabled}

    async def check_now(self) -> dict[str, Any]:
        return {"action": "none", "target": None, "reason": "up to date"}

    async def restart_node(self) -> dict[str, Any]:
        return {}

    async def stop_node(self) -> dict[str, Any]:
        return {}

    async def start_node(self) -> dict[str, Any]:
        return {}

    async def roll_back_core(self, dry_run: bool = False) -> dict[str, Any]:
        return {"from": "0.2.1", "to": "0.2.0", "node_pid": 7, "dry_run": dry_run}

    async def reload(self, restart_node: bool) -> dict[str, Any]:
        return {"summary": "configuration unchanged", "node_restarted": False}

    async def logs_tail(self, lines: int) -> list[str]:
        return []


def read_line(sock: socket.socket, buffer: bytearray) -> dict[str, Any]:
    while b"\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buffer += chunk
    index = buffer.index(b"\n")
    line = bytes(buffer[:index])
    del buffer[: index + 1]
    message: dict[str, Any] = json.loads(line)
    return message


def converse(token: ClientToken, script: Any) -> Any:
    """Run a ControlServer on a stand-in pipe; ``script(pipes)`` plays clients in a thread."""
    pipes = SocketPipes(token)
    handlers = Handlers()
    result: dict[str, Any] = {}

    async def main() -> None:
        server = ControlServer(
            pipe_name("sn"),
            handlers,
            EventBus(),
            instance="sn",
            core_version="0.1.0",
            pipe_api=pipes,
        )
        await server.start()
        try:
            thread_result = await asyncio.get_running_loop().run_in_executor(None, script, pipes)
            result["value"] = thread_result
        finally:
            await server.close()

    asyncio.run(main())
    return result["value"], handlers, pipes


def test_pipe_clients_get_hello_and_answers_through_the_control_server() -> None:
    def script(pipes: SocketPipes) -> list[dict[str, Any]]:
        sock = pipes.connect()
        buffer = bytearray()
        hello = read_line(sock, buffer)
        sock.sendall(
            b'{"type":"request","id":1,"method":"set_updates","params":{"enabled":false}}\n'
        )
        answer = read_line(sock, buffer)
        sock.close()
        return [hello, answer]

    (hello, answer), handlers, pipes = converse(ClientToken(USER_SID, True), script)
    assert hello["can_control"] is True
    assert answer == {"type": "response", "id": 1, "ok": True, "result": {"enabled": False}}
    assert handlers.enabled is False
    assert all(sddl == pipe_sddl(OWN_SID) for sddl in pipes.sddls)


def test_ordinary_pipe_user_is_read_only() -> None:
    def script(pipes: SocketPipes) -> list[dict[str, Any]]:
        sock = pipes.connect()
        buffer = bytearray()
        hello = read_line(sock, buffer)
        sock.sendall(
            b'{"type":"request","id":1,"method":"set_updates","params":{"enabled":false}}\n'
            b'{"type":"request","id":2,"method":"status"}\n'
        )
        answers = [read_line(sock, buffer), read_line(sock, buffer)]
        sock.close()
        return [hello, *answers]

    (hello, refused, status), handlers, _ = converse(ClientToken(USER_SID, False), script)
    assert hello["can_control"] is False
    assert refused["error"]["code"] == "forbidden"
    assert status["ok"] is True
    assert handlers.enabled is True


def test_several_clients_at_once_each_get_their_own_instance() -> None:
    def script(pipes: SocketPipes) -> list[int]:
        socks = [pipes.connect() for _ in range(5)]
        ids = []
        for number, sock in enumerate(socks):
            buffer = bytearray()
            read_line(sock, buffer)
            sock.sendall(f'{{"type":"request","id":{number},"method":"status"}}\n'.encode())
            ids.append(read_line(sock, buffer)["id"])
        for sock in socks:
            sock.close()
        return ids

    ids, _, pipes = converse(ClientToken(SYSTEM_SID, False), script)
    assert ids == [0, 1, 2, 3, 4]
    assert len(pipes.sddls) >= 6  # one fresh instance is always waiting


def test_a_second_core_on_the_same_pipe_fails_with_one_line() -> None:
    pipes = SocketPipes(ClientToken(SYSTEM_SID, False))

    async def main() -> str:
        first = ControlServer(
            pipe_name("sn"), Handlers(), EventBus(), instance="sn", core_version="1", pipe_api=pipes
        )
        second = ControlServer(
            pipe_name("sn"), Handlers(), EventBus(), instance="sn", core_version="1", pipe_api=pipes
        )
        await first.start()
        try:
            with pytest.raises(OperationFailed) as caught:
                await second.start()
            return str(caught.value)
        finally:
            await first.close()

    message = asyncio.run(main())
    assert "another core may be serving it" in message and "\n" not in message
