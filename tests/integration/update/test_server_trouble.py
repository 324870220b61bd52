"""Firewall and server trouble during update checks: the node is untouched, the retries are polite.

Each test drives ``Updater._scheduled_check()`` (what the schedule loop
runs) against a real ``StorjSource`` talking HTTP to a real server on
127.0.0.1 that misbehaves: nothing listening, connections reset before or
during the answer, a host name that cannot resolve, HTTP 500, and 429/503
with ``Retry-After``. Time and randomness are injected (``clock=``,
``rng=``), so the returned next-check times are compared exactly with the
rules of ``core/update/scheduler.py``:

* a failure waits ``uniform(interval/10, min(interval, interval/10 * 2**failures))``
  (exponential backoff with full jitter, never below ``interval/10``);
* a ``Retry-After`` is waited out (capped at 24 h) when it is longer;
* a success resets the backoff and returns to ``interval +- jitter``.

The supervisor is a stub that fails the test if the check path touches it.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from nodekeeper.core.config import config_from_dict
from nodekeeper.core.events import Event, EventBus
from nodekeeper.core.state import StateStore
from nodekeeper.core.update.nodeid import random_node_id
from nodekeeper.core.update.scheduler import RETRY_AFTER_CAP
from nodekeeper.core.update.sources.factory import WebSource
from nodekeeper.core.update.sources.storj import StorjSource
from nodekeeper.core.update.store import VersionStore
from nodekeeper.core.update.updater import Updater
from tests.helpers import free_port
from tests.integration.update.web_release_server import (
    ReleaseServer,
    bytes_reply,
    json_reply,
    release_server,
)

INTERVAL = 12 * 3600.0
JITTER = 3600.0
MIN_GAP = INTERVAL / 10
START = 1_800_000_000.0
FAILURES = 6  # enough to reach the cap: 4320 * 2**4 > 43200


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class RecordingRandom(random.Random):
    """A seeded random source that remembers every ``uniform(a, b)`` it answered."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.calls: list[tuple[float, float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        value = super().uniform(a, b)
        self.calls.append((a, b, value))
        return value


class UntouchedSupervisor:
    """Stands in for the supervisor: checking must never stop, start or ask about the node."""

    def __init__(self) -> None:
        self.touched: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.touched.append(name)
        raise AssertionError(f"the update check touched the supervisor ({name})")


@dataclass
class Rig:
    updater: Updater
    clock: Clock
    rng: RecordingRandom
    supervisor: UntouchedSupervisor
    states: StateStore
    data_dir: Path
    events: list[Event] = field(default_factory=list)

    def failures(self) -> list[Event]:
        return [e for e in self.events if e.kind == "update-failed"]


def make_rig(tmp_path: Path, url: str) -> Rig:
    data_dir = tmp_path / "data"
    config = config_from_dict(
        {
            "node": {"command": ["{binary}", "run"]},
            "updates": {
                "source": "storj",
                "url": url,
                "allow_http": True,
                "interval": "12h",
                "jitter": "1h",
                "startup_delay": "5m",
            },
            "paths": {"data_dir": str(data_dir), "socket": str(tmp_path / "core.sock")},
        },
        tmp_path / "nodekeeper.toml",
    )
    states = StateStore(data_dir / "state.json")
    data_dir.mkdir()
    states.update(current="1.0.0")
    bus = EventBus()
    clock = Clock(START)
    rng = RecordingRandom(6)
    supervisor = UntouchedSupervisor()
    source = WebSource("storj", StorjSource(url, "storagenode", allow_http=True, timeout=10))
    updater = Updater(
        config,
        states=states,
        store=VersionStore(data_dir, "storagenode"),
        node=supervisor,  # type: ignore[arg-type]
        bus=bus,
        source=source,
        node_id=random_node_id(),
        rng=rng,
        clock=clock,
    )
    rig = Rig(updater, clock, rng, supervisor, states, data_dir)
    bus.subscribe(rig.events.append)
    return rig


def scheduled_checks(rig: Rig, count: int) -> list[float]:
    """Run ``count`` scheduled checks, each at the time the previous one asked for."""

    async def run() -> list[float]:
        times = []
        for _ in range(count):
            next_at = await rig.updater._scheduled_check()
            times.append(next_at)
            rig.clock.now = next_at
        return times

    return asyncio.run(run())


def version_document(url: str) -> dict[str, Any]:
    release = {"version": "1.0.0", "url": url + "storagenode_{os}_{arch}.zip"}
    return {
        "processes": {
            "storagenode": {
                "minimum": release,
                "suggested": release,
                "rollout": {"seed": "", "cursor": ""},
            }
        }
    }


def assert_backoff(rig: Rig, times: list[float], start: float = START) -> None:
    """Each failure waited uniform(interval/10, ceiling), the ceiling doubling up to interval."""
    assert len(rig.rng.calls) == len(times)
    now = start
    for failures, (next_at, (low, high, drawn)) in enumerate(
        zip(times, rig.rng.calls, strict=True), 1
    ):
        assert low == MIN_GAP
        assert high == min(INTERVAL, MIN_GAP * 2**failures)
        assert next_at == now + drawn
        assert MIN_GAP <= next_at - now <= INTERVAL
        now = next_at


def assert_reported_and_node_untouched(rig: Rig, count: int, problem: str) -> None:
    status = rig.updater.status()
    error = status["last_error"]
    assert isinstance(error, str) and "\n" not in error and problem in error, error
    assert status["state"] == "error"
    assert status["last_check"] is None  # no successful check happened
    failed = rig.failures()
    assert len(failed) == count
    assert all(e.data["step"] == "check" for e in failed)
    assert error in failed[-1].data.values()  # the event carries the same one line
    assert rig.supervisor.touched == []
    # The schedule survives a restart of the core.
    saved = rig.states.load()
    assert saved.next_check == rig.updater._scheduler.next_check


def assert_recovers(rig: Rig, server: ReleaseServer) -> None:
    """Once the server answers again, the next check succeeds and the backoff is forgotten."""
    server.routes["/"] = json_reply(version_document(server.url("/")))
    before = rig.clock.now
    rig.rng.calls.clear()
    (next_at,) = scheduled_checks(rig, 1)
    low, high, drawn = rig.rng.calls[-1]
    assert (low, high) == (-JITTER, JITTER)
    assert next_at == before + INTERVAL + drawn
    status = rig.updater.status()
    assert status["last_error"] is None and status["state"] == "idle"
    assert status["suggested"] == "1.0.0"
    assert rig.updater._scheduler.failures == 0
    assert rig.supervisor.touched == []


# -- servers that misbehave at the TCP level --------------------------------------


class ResettingServer:
    """Accepts connections and resets them (RST), before or part-way through an answer."""

    def __init__(self, partial_answer: bytes | None) -> None:
        self.partial_answer = partial_answer
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.settimeout(5)
                try:
                    conn.recv(65536)  # the request
                    if self.partial_answer is not None:
                        conn.sendall(self.partial_answer)
                        time.sleep(0.05)
                except OSError:
                    pass
                # Linger 0: close with a TCP reset instead of an orderly FIN.
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00" * 2)

    def __enter__(self) -> ResettingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()


MID_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n"
    b'{"processes": {"storagenode": {"minimum": {"version": "1.0.0", '
)


@pytest.fixture
def server() -> Iterator[ReleaseServer]:
    with release_server() as s:
        yield s


def test_connection_refused_backs_off_exponentially_and_never_below_a_tenth(
    tmp_path: Path,
) -> None:
    url = f"http://127.0.0.1:{free_port()}/"  # nothing listens there
    rig = make_rig(tmp_path, url)
    times = scheduled_checks(rig, FAILURES)
    assert_backoff(rig, times)
    assert times[-1] - times[-2] <= INTERVAL
    assert_reported_and_node_untouched(rig, FAILURES, "cannot reach version server")


@pytest.mark.parametrize(
    "answer", [None, MID_RESPONSE], ids=["reset-before-answer", "reset-mid-response"]
)
def test_connection_reset_backs_off_and_leaves_the_node_alone(
    tmp_path: Path, answer: bytes | None
) -> None:
    with ResettingServer(answer) as resetting:
        rig = make_rig(tmp_path, resetting.url)
        times = scheduled_checks(rig, 3)
        assert resetting.connections >= 3
    assert_backoff(rig, times)
    problem = "cannot reach version server" if answer is None else "transfer failed"
    assert_reported_and_node_untouched(rig, 3, problem)


def test_a_host_name_that_does_not_resolve_backs_off(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, "http://nodekeeper-test.invalid/version")
    times = scheduled_checks(rig, 4)
    assert_backoff(rig, times)
    assert_reported_and_node_untouched(rig, 4, "nodekeeper-test.invalid")


def test_http_500_backs_off_then_a_recovered_server_resets_the_backoff(
    tmp_path: Path, server: ReleaseServer
) -> None:
    server.routes["/"] = bytes_reply(b"internal error", status=500)
    rig = make_rig(tmp_path, server.url("/"))
    times = scheduled_checks(rig, FAILURES)
    assert_backoff(rig, times)
    assert_reported_and_node_untouched(rig, FAILURES, "answered HTTP 500")
    assert len(server.requests) == FAILURES  # one request per try, no hidden retry loop
    assert_recovers(rig, server)


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_longer_than_the_backoff_is_honoured(
    tmp_path: Path, server: ReleaseServer, status: int
) -> None:
    server.routes["/"] = bytes_reply(b"slow down", status=status, **{"Retry-After": "30000"})
    rig = make_rig(tmp_path, server.url("/"))
    (first,) = scheduled_checks(rig, 1)
    assert first == START + 30000
    assert_reported_and_node_untouched(rig, 1, f"HTTP {status}, retry after 30000s")
    assert len(server.requests) == 1  # nothing was tried during the wait
    assert_recovers(rig, server)


def test_retry_after_shorter_than_the_backoff_does_not_shorten_it(
    tmp_path: Path, server: ReleaseServer
) -> None:
    server.routes["/"] = bytes_reply(b"busy", status=503, **{"Retry-After": "60"})
    rig = make_rig(tmp_path, server.url("/"))
    times = scheduled_checks(rig, 3)
    assert_backoff(rig, times)  # exactly the backoff: 60 s is well below interval/10


def test_retry_after_beyond_a_day_is_capped_at_24_hours(
    tmp_path: Path, server: ReleaseServer
) -> None:
    server.routes["/"] = bytes_reply(b"go away", status=429, **{"Retry-After": "9999999"})
    rig = make_rig(tmp_path, server.url("/"))
    times = scheduled_checks(rig, 2)
    assert times == [START + RETRY_AFTER_CAP, START + 2 * RETRY_AFTER_CAP]


def test_retry_after_as_an_http_date_is_honoured(tmp_path: Path, server: ReleaseServer) -> None:
    wait = 5 * 3600

    def reply(_request: object) -> tuple[int, dict[str, str], bytes]:
        when = email.utils.formatdate(time.time() + wait, usegmt=True)
        return 503, {"Retry-After": when}, b"maintenance"

    server.routes["/"] = reply
    rig = make_rig(tmp_path, server.url("/"))
    # The header is an absolute time: put the updater's clock at the real time.
    start = time.time()
    rig.clock.now = start
    (next_at,) = scheduled_checks(rig, 1)
    assert wait - 5 <= next_at - start <= wait + 5
    drawn = rig.rng.calls[0][2]
    assert drawn < wait  # the header, not the backoff, set the time


def test_a_garbled_answer_counts_as_a_failure_with_backoff(
    tmp_path: Path, server: ReleaseServer
) -> None:
    # A captive portal or proxy answering with HTML instead of the version document.
    server.routes["/"] = bytes_reply(b"<html>please log in</html>", **{"Content-Type": "text/html"})
    rig = make_rig(tmp_path, server.url("/"))
    times = scheduled_checks(rig, 3)
    assert_backoff(rig, times)
    assert_reported_and_node_untouched(rig, 3, "invalid JSON")
