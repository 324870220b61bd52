"""A real core tells systemd it is ready once the node runs, pings the watchdog, says stopping.

No systemd is needed: the test binds the datagram socket systemd would
hand the service and names it in NOTIFY_SOCKET, as systemd does.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import CoreHarness


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    try:
        yield sock
    finally:
        sock.close()


def messages(sock: socket.socket, until: str, timeout: float) -> list[str]:
    """Every message received until one holding ``until`` (each message's fields joined)."""
    received: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(4096).decode()
        except TimeoutError:
            break
        received.append(data)
        if until in data.splitlines():
            return received
    raise AssertionError(f"no {until} within {timeout} s; got {received}")


def test_ready_once_the_node_runs_then_watchdog_pings_then_stopping(
    core: CoreHarness, notify_socket: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")  # pings every 0.5 s
    core.start(wait_running=False)
    before_ready = messages(notify_socket, "READY=1", timeout=30)
    assert core.node_pids(), "READY=1 comes after the node was started"
    node = core.wait_state("running", timeout=20)
    assert node["pid"] in core.node_pids()
    ready = [m for m in before_ready if "READY=1" in m.splitlines()]
    assert len(ready) == 1 and "STATUS=supervising the node" in ready[0]

    started = time.monotonic()
    after = messages(notify_socket, "WATCHDOG=1", timeout=5)
    after += messages(notify_socket, "WATCHDOG=1", timeout=5)
    assert time.monotonic() - started < 3, "watchdog pings come every half deadline"
    assert not [m for m in after if "READY=1" in m.splitlines()], "READY=1 is said once"

    assert core.stop() == 0, core.stderr_text()
    assert "STOPPING=1" in messages(notify_socket, "STOPPING=1", timeout=10)[-1]


def test_without_a_watchdog_the_core_still_says_ready_once(
    core: CoreHarness, notify_socket: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    core.start(wait_running=False)
    received = messages(notify_socket, "READY=1", timeout=30)
    assert not [m for m in received if m == "WATCHDOG=1"]
    core.wait_state("running", timeout=20)
    assert core.stop() == 0, core.stderr_text()


def test_no_notify_socket_changes_nothing(
    core: CoreHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    core.start()
    assert core.stop() == 0, core.stderr_text()
