"""The supervisor: keeps exactly one copy of the node running.

It drives the node through the lifecycle table (``lifecycle.py``), asks the
pure :class:`RestartPolicy` how long to wait after a crash, and does every
OS side effect through the platform seam and all waiting through the clock
seam. It must never start a node while another copy may still be alive:
every start follows the removal of the previous run's whole process group,
and the first start of a core follows stopping what a previous core left.

Requests (:meth:`restart`, :meth:`hold`, :meth:`release`, :meth:`shutdown`;
``requesting.py``) only record what is wanted and wake the loop in
:meth:`run`, which alone moves the node from state to state. The starts,
restarts and last exit that the status shows are kept in ``record.py``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from nodekeeper.core.config import LimitsConfig, NodeConfig
from nodekeeper.core.events import EventBus, utc_now_iso
from nodekeeper.core.platform.base import Platform
from nodekeeper.core.supervise.clock import Clock, MonotonicClock, wait_for
from nodekeeper.core.supervise.health import probe
from nodekeeper.core.supervise.lifecycle import (
    HELD_STATES,
    IllegalTransition,
    NodeState,
    Trigger,
    next_state,
)
from nodekeeper.core.supervise.pidfile import PidFile
from nodekeeper.core.supervise.policy import RestartPolicy
from nodekeeper.core.supervise.process import (
    STOP_REASONS,
    ExitInfo,
    NodeRun,
    exit_info_from_returncode,
)
from nodekeeper.core.supervise.record import RunRecord, alive, node_status
from nodekeeper.core.supervise.requesting import SupervisorRequests
from nodekeeper.core.supervise.spawn import LaunchPlan, StartFailed, StdioSource, start_run
from nodekeeper.core.supervise.stopping import kill_leftovers, stop_gracefully, stop_previous_node
from nodekeeper.core.supervise.takeover import take_over
from nodekeeper.core.supervise.watch import OverMemory, Probe, Unhealthy, watch_run

_log = logging.getLogger(__name__)


class Supervisor(SupervisorRequests):
    def __init__(
        self,
        node: NodeConfig,
        limits: LimitsConfig,
        platform: Platform,
        *,
        instance: str,
        resolve: Callable[[], LaunchPlan],
        pidfile: PidFile,
        bus: EventBus,
        stdio: StdioSource | None = None,
        rng: random.Random | None = None,
        clock: Clock | None = None,
        health_probe: Probe = probe,
        on_change: Callable[[], None] = lambda: None,
        held_by_operator: bool = False,
        partials: Mapping[int, bytes] | None = None,
    ) -> None:
        super().__init__(held_by_operator=held_by_operator, on_change=on_change)
        self._node = node
        self._limits = limits
        self._platform = platform
        self._instance = instance
        self._resolve = resolve
        self._pidfile = pidfile
        self._bus = bus
        self._stdio = stdio
        self._clock = clock or MonotonicClock()
        self._probe = health_probe
        self._policy = RestartPolicy(node, rng)
        self._state = NodeState.STOPPED
        self._run = None
        self._record = RunRecord()
        self._delay = 0.0  # before the restart that the current wait leads to
        self._rewatch = False  # reloaded settings: watch the running node with them
        # Partial lines a core that handed the node over held, by pipe inode.
        self._partials = dict(partials or {})
        self._taken_over: NodeRun | None = None  # the node a previous core left, taken over

    # -- requests the loop does not carry out (see SupervisorRequests for the rest)

    def reconfigure(
        self, node: NodeConfig, limits: LimitsConfig, resolve: Callable[[], LaunchPlan]
    ) -> None:
        """Reloaded settings: health, restart and stop settings apply now; the command,
        environment, working folder and limits when the node next starts."""
        self._node, self._limits, self._resolve = node, limits, resolve
        self._policy.reconfigure(node)
        self._rewatch = True
        if self._run is not None:  # a wake in the restart wait would cut it short
            self._wake.set()

    async def stop_after_failure(self) -> None:
        """Stop the node gracefully when :meth:`run` itself has died (a bug, not a request)."""
        run = self._run
        if run is None or self._looping:
            return
        exit_info = await stop_gracefully(
            run, self._node, "shutdown", platform=self._platform, clock=self._clock
        )
        await self._finish(run, exit_info)

    def kill_now(self) -> None:
        """Kill the node's whole tree at once: a shutdown that took too long ends here."""
        run = self._run
        if run is not None and self._alive(run):
            _log.error("killing node pid %d: the core must exit now", run.pid)
            self._platform.kill_tree(run.ident)

    # -- what the status object shows -----------------------------------------

    def status(self) -> dict[str, Any]:
        """The ``node`` part of the status object (docs/contract.md, Status object)."""
        run = self._run
        return node_status(
            self._record,
            self._state,
            run,
            live=run is not None and self._alive(run),
            now=self._clock.now(),
            held_by_operator=self._requests.held_by_operator,
        )

    def _alive(self, run: NodeRun) -> bool:
        return alive(self._platform, run)

    def _fire(self, trigger: Trigger) -> None:
        try:
            state = next_state(self._state, trigger)
        except IllegalTransition as exc:
            _log.error("bug: %s; the node stays %s", exc, self._state)
            return
        if state is not self._state:
            _log.debug("node state %s -> %s (%s)", self._state, state, trigger)
            self._state = state
            self._changed_now()

    # -- the loop ---------------------------------------------------------------

    async def run(self) -> None:
        """Supervise until :meth:`shutdown`."""
        self._looping = True
        try:
            if not self._requests.held_by_operator:
                self._taken_over = self._take_over()
            if self._taken_over is None:
                await stop_previous_node(
                    self._platform,
                    self._clock,
                    self._pidfile,
                    self._node,
                    on_found=lambda: self._fire(Trigger.LEFTOVER),
                )
            while not self._over():
                if self._state in HELD_STATES:
                    trigger = await self._held()
                elif self._state in (NodeState.BACKOFF, NodeState.CRASH_LOOPING):
                    trigger = await self._back_off()
                elif self._state is NodeState.STARTING:
                    trigger = await self._run_node()
                else:  # stopping a node that a previous core left
                    trigger = self._requests.wanted()
                self._fire(trigger)
        finally:
            self._looping = False
            self._changed_now()

    async def _held(self) -> Trigger:
        """Stay stopped or updating for as long as that is what is wanted."""
        while True:
            wanted = self._requests.wanted()
            if wanted is Trigger.SHUTDOWN or next_state(self._state, wanted) is not self._state:
                return wanted
            await self._next_wake()

    async def _back_off(self) -> Trigger:
        """Wait the restart delay; any request ends the wait early."""
        woken = True
        if self._requests.pending() is None:
            try:
                await wait_for(self._clock, self._next_wake(), self._delay)
            except TimeoutError:
                woken = False
        return self._requests.pending() or (Trigger.START if woken else Trigger.BACKOFF_OVER)

    async def _run_node(self) -> Trigger:
        """Start the node and watch it until it ends; return where that leads."""
        run, self._taken_over = self._taken_over, None
        if run is not None:
            self._begin(run)
        else:
            run = self._spawn()
        if run is None:
            now = self._clock.now()
            return self._count_exit(started_at=now, now=now)
        if self._node.health_url is None:
            self._on_health(run, True)
        why = await self._watch(run)
        if why is Trigger.CRASHED:
            await self._finish(run, exit_info_from_returncode(run.exited.result(), "crashed"))
            return self._count_exit(started_at=run.started_at, now=self._clock.now())
        self._fire(why)
        stop = stop_gracefully(
            run, self._node, STOP_REASONS[why], platform=self._platform, clock=self._clock
        )
        await self._finish(run, await stop)
        wanted = self._requests.wanted()
        if why in (Trigger.UNHEALTHY, Trigger.OVER_MEMORY) and wanted is Trigger.START:
            return self._count_exit(started_at=run.started_at, now=self._clock.now())
        return wanted

    def _count_exit(self, *, started_at: float, now: float) -> Trigger:
        """An exit the core did not ask for: the policy says how long to wait."""
        decision = self._policy.on_exit(now, started_at)
        self._delay = decision.delay
        _log.info("restarting the node in %.2fs (attempt %d)", decision.delay, decision.attempt)
        if decision.entered_crash_loop:
            node = self._node
            _log.error(
                "node is crash-looping: %d exits within %ss; retrying every %ss",
                node.crash_loop_restarts,
                node.crash_loop_window,
                node.restart_delay_max,
            )
            self._bus.publish(
                "crash-loop",
                {"exits": node.crash_loop_restarts, "window_s": node.crash_loop_window},
            )
        return Trigger.CRASH_LOOP if decision.crash_looping else Trigger.CRASHED

    # -- starting -------------------------------------------------------------

    def _take_over(self) -> NodeRun | None:
        """The node a previous core left running, if it can be taken over as it is."""
        try:
            version = self._resolve().version
        except Exception:  # no runnable command: whatever runs is stopped, as before
            return None
        return take_over(
            self._platform,
            self._pidfile,
            self._stdio,
            version=version,
            partials=self._partials,
            now=self._clock.now(),
        )

    def _spawn(self) -> NodeRun | None:
        self._requests.restart = False
        try:
            run = start_run(
                self._platform,
                self._resolve,
                self._node,
                self._limits,
                instance=self._instance,
                stdio=self._stdio,
                now=self._clock.now(),
            )
        except StartFailed as exc:
            _log.error("%s", exc)
            self._report_exit(None, ExitInfo(None, None, "failed-to-start", str(exc)))
            return None
        self._begin(run)
        return run

    def _begin(self, run: NodeRun) -> None:
        """A run this core now watches: started by it, or taken over."""
        started = time.time() - (self._clock.now() - run.started_at)
        try:
            self._pidfile.write(run.ident, run.version, run.pipes, started)
        except OSError as exc:
            # The node runs: keep it. Only a later core's clean-up misses the record.
            _log.error("cannot write %s: %s", self._pidfile.path, exc.strerror or exc)
        run.go()
        self._run = run
        self._record.started(run)
        data: dict[str, Any] = {"pid": run.pid, "version": run.version}
        if run.adopted:
            data["adopted"] = True
            _log.info(
                "took over the running node: pid %d, version %s", run.pid, run.version or "unknown"
            )
        else:
            _log.info("node started: pid %d, version %s", run.pid, run.version or "unknown")
        self._bus.publish("node-started", data)
        self._changed_now()

    def _report_exit(
        self, pid: int | None, exit_info: ExitInfo, ran_s: float | None = None
    ) -> None:
        self._record.exited(exit_info, utc_now_iso(), ran_s)
        self._bus.publish("node-exited", exit_info.event(pid))
        self._changed_now()

    # -- watching a run -------------------------------------------------------

    async def _watch(self, run: NodeRun) -> Trigger:
        """Wait until the run ends on its own (CRASHED) or must be stopped (the stop's trigger)."""
        self._rewatch = False
        trouble = self._watcher(run)
        try:
            while True:
                woken = asyncio.ensure_future(self._next_wake())
                watched: set[asyncio.Future[Any]] = {run.exited, woken, trouble}
                await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
                woken.cancel()
                if run.exited.done():
                    return Trigger.CRASHED
                if trouble.done():
                    if trouble.exception() is None:
                        return self._troubled(run, trouble.result())
                    # A bug in a watcher must not end supervision: keep the node, unwatched.
                    _log.error("watching the node failed", exc_info=trouble.exception())
                    trouble = asyncio.get_running_loop().create_future()
                if (request := self._requests.pending()) is not None:
                    return request
                if self._rewatch:
                    self._rewatch = False
                    trouble.cancel()
                    trouble = self._watcher(run)
        finally:
            trouble.cancel()

    def _watcher(self, run: NodeRun) -> asyncio.Future[Unhealthy | OverMemory]:
        return asyncio.ensure_future(
            watch_run(
                run,
                self._node,
                self._limits,
                platform=self._platform,
                clock=self._clock,
                probe=self._probe,
                on_health=lambda healthy: self._on_health(run, healthy),
            )
        )

    def _troubled(self, run: NodeRun, trouble: Unhealthy | OverMemory) -> Trigger:
        if isinstance(trouble, OverMemory):
            return Trigger.OVER_MEMORY
        data = {"pid": run.pid, "detail": trouble.detail, "failures": trouble.failures}
        self._bus.publish("node-unhealthy", data)
        return Trigger.UNHEALTHY

    def _on_health(self, run: NodeRun, healthy: bool | None) -> None:
        unknown = healthy is None
        if healthy:
            run.ever_healthy = True
        if run.healthy != bool(healthy) or run.health_unknown != unknown:
            run.healthy, run.health_unknown = bool(healthy), unknown
            self._changed_now()
        if healthy and self._state is NodeState.STARTING:
            self._fire(Trigger.HEALTHY)

    # -- ending a run -----------------------------------------------------------

    async def _finish(self, run: NodeRun, exit_info: ExitInfo) -> None:
        """The leader is gone: remove what is left of its group, then forget the run."""
        await kill_leftovers(self._platform, self._clock, run.ident)
        self._pidfile.remove()
        self._run = None
        level = logging.WARNING if exit_info.reason == "crashed" else logging.INFO
        _log.log(
            level, "node pid %d ended: %s (%s)", run.pid, exit_info.describe(), exit_info.reason
        )
        self._report_exit(run.pid, exit_info, self._clock.now() - run.started_at)
