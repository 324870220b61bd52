"""Stand-ins for the supervisor's seams: a clock the test drives, a platform of fake processes.

Nothing here starts a process, opens a socket or sleeps: fake processes
live in a dict, time moves only when a test calls :meth:`FakeClock.advance`,
and blocking calls meant for worker threads run inline.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import heapq
import itertools
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from nodekeeper.core.config import LimitsConfig, NodeConfig
from nodekeeper.core.events import Event, EventBus
from nodekeeper.core.platform.base import (
    DataDirLock,
    Platform,
    ProcessIdentity,
    ProcessStatus,
    SpawnRequest,
)
from nodekeeper.core.supervise.health import ProbeResult
from nodekeeper.core.supervise.pidfile import PidFile
from nodekeeper.core.supervise.spawn import LaunchPlan
from nodekeeper.core.supervise.supervisor import Supervisor

T = TypeVar("T")


async def settle() -> None:
    """Let every task that can run do so (no time passes)."""
    for _ in range(40):
        await asyncio.sleep(0)


class FakeClock:
    def __init__(self) -> None:
        self._now = 1000.0
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        timer: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self._now + max(0.0, seconds), next(self._order), timer))
        await timer

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking every sleeper in order as its time comes."""
        target = self._now + seconds
        await settle()
        while self._timers and self._timers[0][0] <= target:
            when, _, timer = heapq.heappop(self._timers)
            if timer.done():
                continue
            self._now = max(self._now, when)
            timer.set_result(None)
            await settle()
        self._now = target
        await settle()


@dataclass
class FakeProcess:
    pid: int
    argv: tuple[str, ...]
    create_time: float
    group: int
    exited: asyncio.Future[int]
    ignores_stop: bool = False
    frozen: bool = False
    stop_signals: list[str] = field(default_factory=list)

    @property
    def alive(self) -> bool:
        return not self.exited.done()

    def exit(self, code: int) -> None:
        if self.alive:
            self.exited.set_result(code)


class FakePlatform(Platform):
    """Processes as records: they exit when a test, a stop signal or a kill says so."""

    name = "fake"

    def __init__(self) -> None:
        self.processes: dict[int, FakeProcess] = {}
        self.spawned: list[SpawnRequest] = []
        self.kills: list[int] = []
        self.spawn_error: OSError | None = None
        self.ignore_stop = False  # for processes spawned from now on
        self.enforcement = "none"
        self.rss = 0
        self._pids = itertools.count(4000)

    def spawn(self, request: SpawnRequest) -> Any:
        if self.spawn_error is not None:
            raise self.spawn_error
        self.spawned.append(request)
        return self.add(tuple(request.argv))

    def add(self, argv: tuple[str, ...] = ("node",), group: int | None = None) -> FakeProcess:
        pid = next(self._pids)
        exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        process = FakeProcess(pid, argv, 1_700_000_000.0 + pid, group or pid, exited)
        process.ignores_stop = self.ignore_stop
        self.processes[pid] = process
        return process

    async def wait_exit(self, popen: Any) -> int:
        return await asyncio.shield(self.processes[popen.pid].exited)

    def live(self) -> list[FakeProcess]:
        return [p for p in self.processes.values() if p.alive]

    def enforced_by(self, limits: LimitsConfig) -> str:
        return self.enforcement

    def identity(self, pid: int) -> ProcessIdentity | None:
        process = self.processes.get(pid)
        if process is None or not process.alive:
            return None
        return ProcessIdentity(pid, process.create_time, process.group)

    def status(self, pid: int) -> ProcessStatus:
        process = self.processes.get(pid)
        if process is None or not process.alive:
            return "gone"
        return "stopped" if process.frozen else "running"

    def send_stop(self, ident: ProcessIdentity, signal_name: str) -> None:
        process = self.processes[ident.pid]
        process.stop_signals.append(signal_name)
        if not process.ignores_stop and not process.frozen:
            process.exit(0)

    def kill_tree(self, ident: ProcessIdentity) -> int:
        members = [p for p in self.live() if p.group == ident.group]
        for process in members:
            self.kills.append(process.pid)
            process.exit(-9)
        return len(members)

    def group_members(self, ident: ProcessIdentity) -> list[int]:
        return [p.pid for p in self.live() if p.group == ident.group]

    def lock_data_dir(self, path: Path) -> DataDirLock:
        raise NotImplementedError

    def tree_rss(self, ident: ProcessIdentity) -> int:
        return self.rss


class InlineExecutor(concurrent.futures.ThreadPoolExecutor):
    """Runs "blocking" calls at once in the loop's thread: no threads, no timing."""

    def submit(
        self, fn: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


class Prober:
    """The health probe: answers what the test sets."""

    def __init__(self) -> None:
        self.result = ProbeResult(True)
        self.error: Exception | None = None  # raised instead: a bug in the probe
        self.calls = 0

    def __call__(self, url: str, timeout: float) -> ProbeResult:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.result


HEALTH_URL = "http://127.0.0.1:14002/api/sno"


@dataclass
class Harness:
    supervisor: Supervisor
    clock: FakeClock
    platform: FakePlatform
    prober: Prober
    pidfile: PidFile
    events: list[Event]
    task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.ensure_future(self.supervisor.run())
        await self.clock.advance(0)

    @property
    def state(self) -> str:
        return str(self.supervisor.status()["state"])

    @property
    def node(self) -> FakeProcess:
        (process,) = self.platform.live()
        return process

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [dict(e.data) for e in self.events if e.kind == kind]

    async def shutdown(self) -> None:
        await self.supervisor.shutdown()
        assert self.task is not None
        await self.task


def node_config(**changes: Any) -> NodeConfig:
    values: dict[str, Any] = {
        "command": ("storagenode", "run"),
        "health_url": HEALTH_URL,
        "health_interval": 1.0,
        "health_timeout": 0.5,
        "health_failures": 3,
        "restart_delay": 0.1,
        "restart_delay_max": 2.0,
        "stable_after": 5.0,
        "stop_timeout": 3.0,
    }
    values.update(changes)
    return NodeConfig(**values)


def supervised(
    tmp_path: Path,
    scenario: Callable[[Harness], Awaitable[None]],
    *,
    limits: LimitsConfig | None = None,
    resolve: Callable[[], LaunchPlan] | None = None,
    before: Callable[[Harness], None] | None = None,
    held_by_operator: bool = False,
    **node: Any,
) -> None:
    """Run ``scenario`` against a supervisor wired to the fakes, in a loop of its own."""

    async def main() -> None:
        clock, platform, prober = FakeClock(), FakePlatform(), Prober()
        bus = EventBus()
        events: list[Event] = []
        bus.subscribe(events.append)
        pidfile = PidFile(tmp_path / "node.pid")
        supervisor = Supervisor(
            node_config(**node),
            limits or LimitsConfig(),
            platform,
            instance="testnode",
            resolve=resolve or (lambda: LaunchPlan(("storagenode", "run"), "1.2.3")),
            pidfile=pidfile,
            bus=bus,
            rng=random.Random(7),
            clock=clock,
            health_probe=prober,
            held_by_operator=held_by_operator,
        )
        harness = Harness(supervisor, clock, platform, prober, pidfile, events)
        if before is not None:
            before(harness)
        await scenario(harness)

    run_in_fake_loop(main())


def run_in_fake_loop(main: Coroutine[Any, Any, None]) -> None:
    loop = asyncio.new_event_loop()
    loop.set_default_executor(InlineExecutor())
    try:
        loop.run_until_complete(asyncio.wait_for(main, timeout=30))
    finally:
        # A failed scenario leaves the supervisor running: end it before the loop.
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.wait(pending))
        loop.close()


class IllegalTransitionLog(logging.Handler):
    """Collects the supervisor's reports of transitions the lifecycle does not allow."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("bug:"):
            self.messages.append(record.getMessage())
