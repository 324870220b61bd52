"""The client library against servers that misbehave (real sockets, scripted peers)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nodekeeper.core.errors import CoreUnreachable, OperationFailed
from nodekeeper.core.ipc.client import Client

HELLO = b'{"type":"hello","protocol":1,"core_version":"0.1.0","instance":"sn","can_control":true}\n'


@pytest.fixture
def scripted(tmp_path: Path) -> Iterator[Callable[[Callable[[socket.socket], None]], str]]:
    """Serve one connection on a real socket with ``script(conn)``."""
    listeners: list[socket.socket] = []
    threads: list[threading.Thread] = []

    def serve(script: Callable[[socket.socket], None]) -> str:
        path = str(tmp_path / f"s{len(listeners)}.sock")
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(path)
        listener.listen()
        listeners.append(listener)

        def run() -> None:
            conn, _ = listener.accept()
            with conn:
                script(conn)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        threads.append(thread)
        return path

    yield serve
    for listener in listeners:
        listener.close()
    for thread in threads:
        thread.join(5)


def test_wrong_protocol_version_is_one_clear_line(scripted: Callable[..., str]) -> None:
    path = scripted(lambda c: c.sendall(HELLO.replace(b'"protocol":1', b'"protocol":9')))
    with pytest.raises(CoreUnreachable, match="core speaks protocol 9, this client speaks 1"):
        Client(path, timeout=5)


def test_garbage_instead_of_hello(scripted: Callable[..., str]) -> None:
    path = scripted(lambda c: c.sendall(b"SSH-2.0-OpenSSH\n"))
    with pytest.raises(CoreUnreachable, match="sent a bad line"):
        Client(path, timeout=5)


def test_core_closing_mid_request_is_unreachable(scripted: Callable[..., str]) -> None:
    def script(conn: socket.socket) -> None:
        conn.sendall(HELLO)
        conn.recv(1000)

    client = Client(scripted(script), timeout=5)
    with pytest.raises(CoreUnreachable, match="closed the connection while answering status"):
        client.call("status")
    client.close()


def test_silent_core_times_out_with_one_line(scripted: Callable[..., str]) -> None:
    done = threading.Event()

    def script(conn: socket.socket) -> None:
        conn.sendall(HELLO)
        done.wait(10)

    client = Client(scripted(script), timeout=0.5)
    with pytest.raises(OperationFailed, match="status: no answer from the core"):
        client.call("status")
    client.close()
    done.set()


def test_answers_to_other_ids_and_events_are_skipped(scripted: Callable[..., str]) -> None:
    def script(conn: socket.socket) -> None:
        conn.sendall(HELLO)
        conn.recv(1000)
        conn.sendall(
            b'{"type":"event","event":"node-started","time":"t","data":{}}\n'
            b'{"type":"response","id":99,"ok":true,"result":"not yours"}\n'
            b'{"type":"response","id":1,"ok":true,"result":"yours"}\n'
        )

    with Client(scripted(script), timeout=5) as client:
        assert client.call("status") == "yours"


def test_silent_listener_without_hello_times_out(scripted: Callable[..., str]) -> None:
    done = threading.Event()
    path = scripted(lambda c: done.wait(10))
    with pytest.raises(CoreUnreachable, match="hello: no answer"):
        Client(path, timeout=0.5)
    done.set()
