"""Connections that say nothing are closed; subscribers, which only listen, stay.

A real ControlServer process with short timeouts: 0.5 s to send a first
request, 1 s between requests for connections that are not subscriptions.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.ipc.support import FakeCore, RawClient

HELLO, IDLE = 0.5, 1.0


@pytest.fixture
def core(tmp_path: Path) -> Iterator[FakeCore]:
    fake = FakeCore(
        tmp_path / "core.sock",
        {"NK_FAKE_HELLO_TIMEOUT": str(HELLO), "NK_FAKE_IDLE_TIMEOUT": str(IDLE)},
    )
    try:
        yield fake
    finally:
        fake.stop()


def closed_after(client: RawClient) -> float:
    started = time.monotonic()
    assert client.sock.recv(1) == b""
    return time.monotonic() - started


def test_a_client_that_never_asks_is_closed_after_the_hello_timeout(core: FakeCore) -> None:
    client = RawClient(core.path, timeout=10)
    assert client.hello["type"] == "hello"
    assert closed_after(client) < HELLO + 2


def test_a_client_that_stops_asking_is_closed_after_the_idle_timeout(core: FakeCore) -> None:
    client = RawClient(core.path, timeout=10)
    for request_id in range(4):  # requests keep it open well past the hello timeout
        client.request(request_id, "status")
        assert client.read()["id"] == request_id
        time.sleep(IDLE / 2)
    waited = closed_after(client)
    assert IDLE / 2 - 0.2 < waited < IDLE + 2


def test_a_subscriber_stays_however_quiet(core: FakeCore) -> None:
    client = RawClient(core.path, timeout=IDLE * 4)
    client.request(1, "subscribe")
    assert client.read()["type"] == "event"  # the snapshot
    assert client.read()["result"] == {"subscribed": True}
    time.sleep(IDLE * 3)
    core.command("publish 1")
    assert client.read()["type"] == "event"
    client.close()
