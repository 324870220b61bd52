"""The supervisor: keeps exactly one copy of the node running.

It drives the pure :class:`RestartPolicy` and :class:`HealthTracker` from
the event loop, and does every OS side effect through the platform seam.
It must never start a node while another copy may still be alive: every
start is preceded by making sure the previous run's whole process group is
gone, and the first start of a core by stopping what a previous core left.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from nodekeeper.core.events import EventBus, utc_now_iso
from nodekeeper.core.platform.base import LimitSettings, Platform, ProcessIdentity, SpawnRequest
from nodekeeper.core.supervise.health import HealthTracker, ProbeResult, probe
from nodekeeper.core.supervise.pidfile import PidFile, same_process
from nodekeeper.core.supervise.policy import RestartPolicy, RestartSettings
from nodekeeper.core.supervise.process import ExitInfo, NodeRun, exit_info_from_returncode

_log = logging.getLogger(__name__)

# How long leftovers of a killed group get to disappear before we give up waiting.
KILL_SETTLE_TIMEOUT = 5.0
MEMORY_WATCH_INTERVAL = 1.0


@dataclass(frozen=True)
class LaunchPlan:
    argv: tuple[str, ...]
    version: str | None


@dataclass(frozen=True)
class SupervisorSettings:
    instance: str
    env: Mapping[str, str]
    workdir: Path | None
    stop_signal: str
    stop_timeout: float
    health_url: str | None
    health_interval: float
    health_timeout: float
    health_failures: int
    restart: RestartSettings
    limits: LimitSettings


class StdioSource(Protocol):
    def open_stdio(self) -> tuple[int, int]: ...


class Supervisor:
    def __init__(
        self,
        settings: SupervisorSettings,
        platform: Platform,
        *,
        resolve: Callable[[], LaunchPlan],
        pidfile: PidFile,
        bus: EventBus,
        stdio: StdioSource | None = None,
        rng: random.Random | None = None,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._settings = settings
        self._platform = platform
        self._resolve = resolve
        self._pidfile = pidfile
        self._bus = bus
        self._stdio = stdio
        self._policy = RestartPolicy(settings.restart, rng)
        self._state = "stopped"
        self._run: NodeRun | None = None
        self._restarts = 0
        self._starts = 0
        self._last_exit: dict[str, Any] | None = None
        self._version: str | None = None
        self._request: str | None = None
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()  # set while no node process exists
        self._idle.set()
        self._hold_reason: str | None = None
        self._shutting_down = False
        self._on_change = on_change

    # -- commands (called from the event loop) --------------------------------

    async def restart(self) -> None:
        """Gracefully restart the node now (not counted as a crash)."""
        self._hold_reason = None
        self._ask("restart")

    async def stop_node(self, reason: str = "stopped") -> None:
        """Stop the node and keep it stopped until :meth:`start_node` (updates use this)."""
        self._hold_reason = reason
        self._ask("hold")
        await self._idle.wait()

    async def start_node(self) -> None:
        self._hold_reason = None
        self._ask("start")

    # -- the node interface the update cycle uses (update.node.NodeControl) --

    async def hold(self, reason: str) -> None:
        """Stop the node gracefully and keep it stopped until :meth:`release`."""
        await self.stop_node(reason)

    async def release(self) -> None:
        """Start the node again after :meth:`hold`."""
        await self.start_node()

    async def wait_until_healthy(self, timeout: float) -> bool:
        """True once the node runs and answers healthy, False after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            run = self._run
            if self._state == "running" and run is not None and run.healthy:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            await asyncio.sleep(min(0.1, left))

    async def shutdown(self) -> None:
        self._shutting_down = True
        self._ask("shutdown")
        await self._idle.wait()

    def _ask(self, request: str) -> None:
        self._request = request
        self._wake.set()

    # -- status ---------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        run = self._run
        return {
            "state": self._state,
            "pid": run.pid if run else None,
            "version": run.version if run else self._version,
            "uptime_s": round(time.monotonic() - run.started_at, 1) if run else 0.0,
            "restarts": self._restarts,
            "healthy": bool(run and run.healthy),
            "last_exit": self._last_exit,
        }

    @property
    def current_run(self) -> NodeRun | None:
        return self._run

    def _set_state(self, state: str) -> None:
        if state != self._state:
            _log.debug("node state %s -> %s", self._state, state)
            self._state = state
            self._on_change()

    # -- the main loop --------------------------------------------------------

    async def run(self) -> None:
        """Supervise until :meth:`shutdown`."""
        await self._stop_leftover()
        while not self._shutting_down:
            if self._hold_reason is not None:
                self._set_state("updating" if self._hold_reason == "update" else "stopped")
                await self._wait_for_request()
                continue
            node = await self._start()
            if node is None:
                exit_info = ExitInfo(None, None, "failed-to-start")
                now = time.monotonic()
                await self._after_exit(exit_info, started_at=now, now=now)
                continue
            outcome = await self._supervise(node)
            if outcome.reason in ("requested", "hold", "shutdown"):
                continue
            await self._after_exit(outcome, started_at=node.started_at, now=time.monotonic())
        self._set_state("stopped")

    async def _wait_for_request(self) -> str | None:
        await self._wake.wait()
        self._wake.clear()
        request, self._request = self._request, None
        return request

    async def _after_exit(self, exit_info: ExitInfo, *, started_at: float, now: float) -> None:
        """Back off after an exit the core did not ask for, then return to start again."""
        decision = self._policy.on_exit(now, started_at)
        if decision.entered_crash_loop:
            _log.error(
                "node is crash-looping: %d exits within %ss; retrying every %ss",
                self._settings.restart.crash_loop_restarts,
                self._settings.restart.crash_loop_window,
                self._settings.restart.restart_delay_max,
            )
            self._bus.publish(
                "crash-loop",
                {
                    "exits": self._settings.restart.crash_loop_restarts,
                    "window_s": self._settings.restart.crash_loop_window,
                },
            )
        self._set_state("crash-looping" if decision.crash_looping else "backoff")
        _log.info("restarting the node in %.2fs (attempt %d)", decision.delay, decision.attempt)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wait_for_request_keep_hold(), timeout=decision.delay)

    async def _wait_for_request_keep_hold(self) -> None:
        request = await self._wait_for_request()
        if request == "shutdown":
            self._shutting_down = True

    # -- starting -------------------------------------------------------------

    async def _start(self) -> NodeRun | None:
        self._set_state("starting")
        try:
            plan = self._resolve()
        except Exception as exc:  # a missing binary must not kill the core
            self._record_start_failure(f"cannot resolve the node command: {exc}")
            return None
        request = SpawnRequest(
            argv=plan.argv,
            env={**os.environ, **self._settings.env},
            cwd=self._settings.workdir,
            stdout=None,
            stderr=None,
            limits=self._settings.limits,
            name=self._settings.instance,
        )
        stdout_w = stderr_w = None
        if self._stdio is not None:
            stdout_w, stderr_w = self._stdio.open_stdio()
            request = dataclasses.replace(request, stdout=stdout_w, stderr=stderr_w)
        try:
            popen = self._platform.spawn(request)
        except OSError as exc:
            self._record_start_failure(f"cannot start {plan.argv[0]}: {exc.strerror or exc}")
            return None
        finally:
            for fd in (stdout_w, stderr_w):
                if fd is not None:
                    os.close(fd)
        ident = self._platform.identity(popen.pid) or ProcessIdentity(
            popen.pid, time.time(), popen.pid
        )
        node = NodeRun(popen, ident, plan.version, time.monotonic())
        node.watch(asyncio.get_running_loop())
        self._pidfile.write(ident, plan.version)
        self._idle.clear()
        self._run = node
        self._version = plan.version
        if self._starts:
            self._restarts += 1
        self._starts += 1
        _log.info("node started: pid %d, version %s", node.pid, plan.version or "unknown")
        self._bus.publish("node-started", {"pid": node.pid, "version": plan.version})
        if self._settings.health_url is None:
            node.healthy = True
            self._set_state("running")
        return node

    def _record_start_failure(self, message: str) -> None:
        _log.error("%s", message)
        self._last_exit = {
            "code": None,
            "signal": None,
            "reason": "failed-to-start",
            "time": utc_now_iso(),
            "message": message,
        }
        self._bus.publish(
            "node-exited",
            {
                "pid": None,
                "code": None,
                "signal": None,
                "reason": "failed-to-start",
                "message": message,
            },
        )

    # -- watching a run -------------------------------------------------------

    async def _supervise(self, node: NodeRun) -> ExitInfo:
        helpers = [
            asyncio.create_task(self._health_loop(node)),
            asyncio.create_task(self._stable_timer(node)),
        ]
        if self._platform.enforced_by(self._settings.limits) == "watchdog":
            helpers.append(asyncio.create_task(self._memory_watch(node)))
        try:
            while True:
                waker = asyncio.ensure_future(self._wake.wait())
                either: set[asyncio.Future[Any]] = {node.exited, waker}
                await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
                waker.cancel()
                if node.exited.done():
                    reason = "crashed"
                    return await self._finish(
                        node, exit_info_from_returncode(node.exited.result(), reason)
                    )
                request = await self._wait_for_request()
                if request in ("restart", "hold", "shutdown", "unhealthy", "memory"):
                    reason = {"restart": "requested"}.get(request, request)
                    return await self._finish(node, await self._stop(node, reason))
        finally:
            for task in helpers:
                task.cancel()

    async def _stable_timer(self, node: NodeRun) -> None:
        await asyncio.sleep(self._settings.restart.stable_after)
        was_looping = self._policy.crash_looping
        self._policy.on_stable(time.monotonic())
        if was_looping and self._state == "crash-looping":
            self._set_state("running" if node.healthy else "starting")

    async def _health_loop(self, node: NodeRun) -> None:
        s = self._settings
        tracker = HealthTracker(s.health_failures)
        last_counted = time.monotonic()
        loop = asyncio.get_running_loop()
        while True:
            # Until the first healthy answer, look often so "running" shows
            # quickly, but count failures only once per health_interval.
            await asyncio.sleep(
                s.health_interval if tracker.ever_healthy else min(0.5, s.health_interval)
            )
            result = await self._probe_once(node, loop)
            now = time.monotonic()
            if not (
                result.ok or tracker.ever_healthy or now - last_counted >= s.health_interval * 0.95
            ):
                continue
            last_counted = now
            verdict = tracker.record(result)
            if node.healthy != (verdict == "healthy"):
                node.healthy = verdict == "healthy"
                self._on_change()
            if verdict == "healthy":
                if self._state == "starting":
                    self._set_state("running")
            elif verdict == "restart":
                _log.warning(
                    "node unresponsive (%s) after %d checks; restarting it",
                    result.detail,
                    tracker.consecutive_failures,
                )
                self._bus.publish(
                    "node-unhealthy",
                    {
                        "pid": node.pid,
                        "detail": result.detail,
                        "failures": tracker.consecutive_failures,
                    },
                )
                self._ask("unhealthy")
                return
            else:
                _log.info(
                    "node health check failed (%d/%d): %s",
                    tracker.consecutive_failures,
                    s.health_failures,
                    result.detail,
                )

    async def _probe_once(self, node: NodeRun, loop: asyncio.AbstractEventLoop) -> ProbeResult:
        status = self._platform.status(node.pid)
        if status in ("stopped", "zombie"):
            return ProbeResult(False, f"process is {status}")
        url = self._settings.health_url
        if url is None:
            return ProbeResult(True)
        timeout = self._settings.health_timeout
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(None, probe, url, timeout), timeout=timeout + 0.5
            )
        except TimeoutError:
            return ProbeResult(False, f"no answer within {timeout:g}s")

    async def _memory_watch(self, node: NodeRun) -> None:
        limit = self._settings.limits.memory_max
        assert limit is not None
        while True:
            await asyncio.sleep(MEMORY_WATCH_INTERVAL)
            rss = await asyncio.get_running_loop().run_in_executor(
                None, self._platform.tree_rss, node.ident
            )
            if rss > limit:
                _log.error(
                    "node uses %d bytes, above limits.memory_max %d; restarting it", rss, limit
                )
                self._ask("memory")
                return

    # -- stopping -------------------------------------------------------------

    async def _stop(self, node: NodeRun, reason: str) -> ExitInfo:
        """Stop gracefully: stop_signal, wait stop_timeout, then kill the whole tree."""
        self._set_state("stopping")
        s = self._settings
        if not node.exited.done():
            _log.info("stopping node pid %d (%s, %s)", node.pid, s.stop_signal, reason)
            self._platform.send_stop(node.ident, s.stop_signal)
            try:
                await asyncio.wait_for(asyncio.shield(node.exited), timeout=s.stop_timeout)
            except TimeoutError:
                _log.warning(
                    "node did not stop within %gs; killing its process tree", s.stop_timeout
                )
                self._platform.kill_tree(node.ident)
                await node.exited
        return exit_info_from_returncode(node.exited.result(), reason)

    async def _finish(self, node: NodeRun, exit_info: ExitInfo) -> ExitInfo:
        """The leader is gone: remove what is left of its group, then forget the run."""
        await self._kill_leftovers(node.ident)
        self._pidfile.remove()
        self._run = None
        self._idle.set()
        self._last_exit = {
            "code": exit_info.code,
            "signal": exit_info.signal,
            "reason": exit_info.reason,
            "time": utc_now_iso(),
        }
        level = logging.INFO if exit_info.reason != "crashed" else logging.WARNING
        _log.log(
            level, "node pid %d ended: %s (%s)", node.pid, exit_info.describe(), exit_info.reason
        )
        self._bus.publish(
            "node-exited",
            {
                "pid": node.pid,
                "code": exit_info.code,
                "signal": exit_info.signal,
                "reason": exit_info.reason,
                "requested": exit_info.reason in ("requested", "hold", "shutdown"),
            },
        )
        return exit_info

    async def _kill_leftovers(self, ident: ProcessIdentity) -> None:
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + KILL_SETTLE_TIMEOUT
        while True:
            members = await loop.run_in_executor(None, self._platform.group_members, ident)
            alive = [pid for pid in members if self._platform.status(pid) not in ("gone", "zombie")]
            if not alive:
                return
            if time.monotonic() > deadline:
                _log.error("processes %s of the old node survive SIGKILL", alive)
                return
            _log.info("killing %d leftover process(es) of the node: %s", len(alive), alive)
            self._platform.kill_tree(ident)
            await asyncio.sleep(0.05)

    async def _stop_leftover(self) -> None:
        """Stop a node that a previous core left running, before anything starts."""
        recorded = self._pidfile.read()
        if recorded is None:
            return
        live = self._platform.identity(recorded.pid)
        loop = asyncio.get_running_loop()
        if same_process(recorded, live):
            _log.warning(
                "a node left by a previous core is still running (pid %d); stopping it",
                recorded.pid,
            )
            self._set_state("stopping")
            self._platform.send_stop(recorded, self._settings.stop_signal)
            deadline = time.monotonic() + self._settings.stop_timeout
            while time.monotonic() < deadline and same_process(
                recorded, self._platform.identity(recorded.pid)
            ):
                await asyncio.sleep(0.05)
            self._platform.kill_tree(recorded)
        elif live is not None:
            _log.info(
                "pid %d from the pid file now belongs to another process; not touching it",
                recorded.pid,
            )
        # The leader may be gone while processes it forked live on in its group.
        members = await loop.run_in_executor(None, self._platform.group_members, recorded)
        if members and (
            live is None or same_process(recorded, live) or recorded.pid not in members
        ):
            await self._kill_leftovers(recorded)
        self._pidfile.remove()
