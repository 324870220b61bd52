"""Helpers for socket tests: a real fake-core process and raw socket clients."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.helpers import REPO

FAKE_CORE = Path(__file__).with_name("fake_core.py")


class FakeCore:
    """``fake_core.py`` serving a ControlServer on ``path`` in its own process."""

    def __init__(self, path: Path, extra_env: dict[str, str] | None = None) -> None:
        self.path = path
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1", **(extra_env or {})}
        self.process = subprocess.Popen(
            [sys.executable, str(FAKE_CORE), str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=env,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if line.strip() != "ready":
            self.process.kill()
            _out, err = self.process.communicate()
            raise AssertionError(f"fake core did not start: {line!r} {err}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def command(self, text: str) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline().strip() == "ok"

    def alive(self) -> bool:
        return self.process.poll() is None

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def stop(self) -> int:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            try:
                self.process.stdin.write("quit\n")
                self.process.stdin.flush()
            except BrokenPipeError:
                pass
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.communicate()
        return self.process.returncode


def connect(sock: socket.socket, path: Path, timeout: float = 10.0) -> None:
    """Connect, waiting while the server's accept backlog is full (EAGAIN)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            sock.connect(str(path))
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class RawClient:
    """A bare socket speaking the protocol by hand, to send what real clients would not."""

    def __init__(self, path: Path, timeout: float = 10.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        connect(self.sock, path)
        self.buffer = b""
        self.hello = self.read()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(self, request_id: int, method: str, params: dict[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"type": "request", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(json.dumps(message).encode() + b"\n")

    def read(self) -> dict[str, Any]:
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the core")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        message: dict[str, Any] = json.loads(line)
        return message

    def close(self) -> None:
        self.sock.close()


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def subscribe_raw(path: Path, count: int) -> list[socket.socket]:
    """``count`` raw connections that have each sent a subscribe request."""
    socks = []
    for _ in range(count):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connect(sock, path)
        sock.sendall(b'{"type":"request","id":1,"method":"subscribe"}\n')
        socks.append(sock)
    return socks


def read_events(
    socks: list[socket.socket], until: Any, timeout: float
) -> list[list[dict[str, Any]]]:
    """Read every socket concurrently until ``until(messages)`` holds for each of them.

    Returns each socket's messages in arrival order (hello, snapshot, response, events...).
    """
    import selectors

    received: list[list[dict[str, Any]]] = [[] for _ in socks]
    buffers = [b""] * len(socks)
    selector = selectors.DefaultSelector()
    for index, sock in enumerate(socks):
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, index)
    waiting = {i for i in range(len(socks)) if not until(received[i])}
    deadline = time.monotonic() + timeout
    try:
        while waiting:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(waiting)} of {len(socks)} sockets did not get everything"
                )
            for key, _mask in selector.select(0.5):
                index = key.data
                try:
                    chunk = socks[index].recv(1 << 20)
                except BlockingIOError:
                    continue
                if not chunk:
                    selector.unregister(socks[index])
                    waiting.discard(index)
                    continue
                *lines, buffers[index] = (buffers[index] + chunk).split(b"\n")
                received[index] += [json.loads(line) for line in lines]
                if until(received[index]):
                    waiting.discard(index)
    finally:
        selector.close()
    return received
