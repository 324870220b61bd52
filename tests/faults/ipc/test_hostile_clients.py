"""Nothing a client sends, or fails to read, hurts the core's control socket.

Every test runs a real ControlServer in its own process and checks
afterwards that it is alive, still answers, and that its open file
descriptors are back to where they were.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nodekeeper.core.ipc.client import Client
from tests.integration.ipc.support import (
    FakeCore,
    RawClient,
    connect,
    read_events,
    subscribe_raw,
    wait_for,
)

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def shared_core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeCore]:
    core = FakeCore(tmp_path_factory.mktemp("ipc") / "core.sock")
    try:
        yield core
    finally:
        core.stop()


@pytest.fixture
def fake_core(tmp_path: Path) -> Iterator[FakeCore]:
    core = FakeCore(tmp_path / "core.sock")
    try:
        yield core
    finally:
        core.stop()


def baseline_fds(core: FakeCore) -> int:
    # One full conversation first, so lazily opened descriptors are counted.
    with Client(str(core.path)) as client:
        client.call("status")
    return wait_for(lambda: core.open_fds(), 5, "fd count")  # type: ignore[no-any-return]


def assert_healthy(core: FakeCore, fds: int) -> None:
    assert core.alive(), "the core died"
    with Client(str(core.path)) as client:
        assert client.call("status")["node"]["state"] == "running"
    wait_for(lambda: core.open_fds() <= fds, 10, f"fds back to {fds} (now {core.open_fds()})")


valid_requests = st.builds(
    lambda i, m, p: json.dumps({"type": "request", "id": i, "method": m, "params": p}).encode(),
    st.integers(-5, 2**60),
    st.sampled_from(["status", "logs_tail", "set_updates", "nope", "subscribe", ""]),
    st.dictionaries(st.sampled_from(["enabled", "lines", "x"]), st.integers() | st.booleans()),
)
frames = st.lists(
    valid_requests
    | st.binary(max_size=300)
    | st.just(b"\xff\xfe\xfd")
    | st.just(b"\xed\xa0\x80")  # a UTF-16 surrogate in UTF-8: invalid
    | st.just(b'{"type": "request", "id": 1, "method": "status"')  # half a line
    | st.just(b"[" * 5000),
    max_size=12,
).map(lambda parts: b"\n".join(parts))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(payload=frames)
def test_random_frames_get_answers_never_a_crash(shared_core: FakeCore, payload: bytes) -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        connect(sock, shared_core.path)
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    for line in data.splitlines():
        message = json.loads(line)
        assert message["type"] in ("hello", "response", "event")
        if message["type"] == "response" and not message["ok"]:
            assert message["error"]["code"] in (
                "bad_request",
                "unknown_method",
                "forbidden",
                "failed",
            )
    assert shared_core.alive()


def test_after_fuzzing_the_core_answers_and_fds_are_back(shared_core: FakeCore) -> None:
    fds = baseline_fds(shared_core)
    for _ in range(50):
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(shared_core.path))
            sock.sendall(b"\x00\xff{" * 1000)
    assert_healthy(shared_core, fds)


def test_a_10_mib_line_is_refused_and_the_connection_goes_on(fake_core: FakeCore) -> None:
    fds = baseline_fds(fake_core)
    raw = RawClient(fake_core.path, timeout=30)
    raw.send(b"a" * (10 * MiB) + b"\n")
    raw.request(2, "status")
    refused = raw.read()
    assert refused["error"]["code"] == "bad_request"
    assert "longer than 65536 bytes" in refused["error"]["message"]
    answer = raw.read()
    assert (answer["id"], answer["ok"]) == (2, True)
    raw.close()
    assert_healthy(fake_core, fds)


def test_half_lines_and_sudden_disconnects_leave_nothing_behind(fake_core: FakeCore) -> None:
    fds = baseline_fds(fake_core)
    for size in (1, 100, 65535, 65536, 65537, 200_000):
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(fake_core.path))
            sock.sendall(b'{"type":"request","id":1,' + b" " * size)
    assert_healthy(fake_core, fds)


def test_5000_connections_opened_and_dropped(fake_core: FakeCore) -> None:
    fds = baseline_fds(fake_core)
    for batch in range(50):
        socks = []
        for index in range(100):
            sock = socket.socket(socket.AF_UNIX)
            sock.connect(str(fake_core.path))
            if index % 3 == 0:
                sock.sendall(b'{"type":"request","id":1,"method":"status"}\n{"type":')
            socks.append(sock)
        for index, sock in enumerate(socks):
            if (index + batch) % 2:
                # RST instead of FIN: the core sees a reset, not an orderly close.
                sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
            sock.close()
    assert_healthy(fake_core, fds)


def test_subscribers_that_never_read_are_dropped_and_others_get_everything(
    fake_core: FakeCore,
) -> None:
    fds = baseline_fds(fake_core)
    stuck = subscribe_raw(fake_core.path, 100)
    reader = subscribe_raw(fake_core.path, 1)
    # ~2.6 MB per client, more than any buffer holds, at a pace a reading client keeps up with.
    events, pad, pause_ms = 10_000, 200, 5
    try:
        read_events(reader, lambda got: any(m.get("type") == "response" for m in got), 30)
        fake_core.command(f"publish {events} {pad} {pause_ms}")
        [got] = read_events(
            reader, lambda got: sum(m.get("event") == "update-progress" for m in got) >= events, 120
        )
        assert [m["data"]["n"] for m in got if m.get("event") == "update-progress"] == list(
            range(events)
        )
        # The core disconnected every client that did not read: their ends see EOF
        # after whatever was buffered, long before all events could have arrived.
        for sock in stuck:
            assert _drain_until_closed(sock) < events
        wait_for(lambda: fake_core.open_fds() <= fds + 1, 10, "stuck clients closed by the core")
    finally:
        for sock in stuck + reader:
            sock.close()
    assert_healthy(fake_core, fds)


def _drain_until_closed(sock: socket.socket) -> int:
    """Read to EOF; return how many events the socket had received."""
    sock.setblocking(True)
    sock.settimeout(30)
    data = b""
    while True:
        try:
            chunk = sock.recv(1 << 20)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data.count(b'"update-progress"')
