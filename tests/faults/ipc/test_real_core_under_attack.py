"""A real core under hostile clients keeps supervising and answering.

Runs `nodekeeper run --config` with the demo node, throws garbage, huge
lines, connection storms and subscribers that never read at its socket,
and kills the node meanwhile: the node is still restarted, the core still
answers, and its open descriptors return to where they were.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nodekeeper.core.ipc.client import Client
from tests.helpers import CoreHarness, wait_until
from tests.integration.ipc.support import RawClient, connect, subscribe_raw

MiB = 1024 * 1024


def core_fds(core: CoreHarness) -> int:
    assert core.process is not None
    return len(os.listdir(f"/proc/{core.process.pid}/fd"))


def status(core: CoreHarness) -> dict:  # type: ignore[type-arg]
    with Client(str(core.socket_path)) as client:
        result: dict = client.call("status")  # type: ignore[type-arg]
        return result


@pytest.mark.slow
def test_hostile_clients_do_not_stop_supervision(core: CoreHarness) -> None:
    core.start()
    status(core)
    baseline = core_fds(core)
    rng = random.Random(4)

    stuck = subscribe_raw(core.socket_path, 100)  # subscribe and never read
    try:
        # Garbage, invalid UTF-8 and half lines from many short connections.
        for _ in range(300):
            with socket.socket(socket.AF_UNIX) as sock:
                sock.connect(str(core.socket_path))
                sock.sendall(rng.randbytes(rng.randrange(1, 3000)) + b'\xff\xfe\n{"type":')
        # One 10 MiB line, then a normal request on the same connection.
        raw = RawClient(core.socket_path, timeout=30)
        raw.send(b"z" * (10 * MiB) + b"\n")
        raw.request(1, "status")
        assert raw.read()["error"]["code"] == "bad_request"
        assert raw.read()["result"]["node"]["state"] == "running"
        raw.close()

        # Supervision goes on: a crashed node is restarted while all this is open.
        [pid] = core.node_pids()
        restarts = status(core)["node"]["restarts"]
        os.kill(pid, signal.SIGKILL)
        wait_until(
            lambda: (
                status(core)["node"]["restarts"] > restarts
                and status(core)["node"]["state"] == "running"
            ),
            30,
            "the node restarted",
        )
        assert core.node_pids() != [pid]
    finally:
        for sock in stuck:
            sock.close()

    # 5,000 connections opened and dropped.
    for _ in range(50):
        socks = []
        for _ in range(100):
            sock = socket.socket(socket.AF_UNIX)
            sock.connect(str(core.socket_path))
            socks.append(sock)
        for sock in socks:
            sock.close()

    assert core.process is not None and core.process.poll() is None, "the core died"
    assert status(core)["node"]["state"] == "running"
    wait_until(lambda: core_fds(core) <= baseline, 15, f"core fds back to {baseline}")


@pytest.fixture(scope="module")
def shared_core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CoreHarness]:
    harness = CoreHarness(tmp_path_factory.mktemp("real-core"))
    try:
        harness.start()
        yield harness
    finally:
        harness.stop()
        harness.cleanup()


requests = st.builds(
    lambda i, m, p: json.dumps({"type": "request", "id": i, "method": m, "params": p}).encode(),
    st.integers(-3, 2**60) | st.text(max_size=3),
    st.sampled_from(["status", "logs_tail", "subscribe", "set_updates", "restart", ""]),
    st.dictionaries(st.sampled_from(["enabled", "lines"]), st.integers(-2, 20_000) | st.none()),
)
streams = st.lists(
    requests | st.binary(max_size=500) | st.just(b"\xc3\x28") | st.just(b'{"type":"request"'),
    max_size=10,
).map(b"\n".join)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(payload=streams)
def test_random_streams_never_hurt_a_real_core(shared_core: CoreHarness, payload: bytes) -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(20)
        connect(sock, shared_core.socket_path)
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    for line in received.splitlines():
        assert json.loads(line)["type"] in ("hello", "response", "event")
    assert shared_core.process is not None and shared_core.process.poll() is None


def test_after_random_streams_the_real_core_still_supervises(shared_core: CoreHarness) -> None:
    before = status(shared_core)["node"]
    [pid] = shared_core.node_pids()
    os.kill(pid, signal.SIGKILL)
    wait_until(
        lambda: (
            (node := status(shared_core)["node"])["restarts"] > before["restarts"]
            and node["state"] == "running"
        ),
        30,
        "the node restarted",
    )
