"""Watching a running node: health checks and the memory watchdog.

:func:`watch_run` returns only when the node must be restarted; the
supervisor races it against the node's exit and against requests. Verdicts come
from the pure :class:`HealthTracker`, all waiting goes through the clock
seam, and the blocking calls (the HTTP probe, the memory scan) run in
worker threads so that they never stall the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from nodekeeper.core.config import LimitsConfig, NodeConfig
from nodekeeper.core.platform.base import Platform
from nodekeeper.core.supervise.clock import Clock, wait_for
from nodekeeper.core.supervise.health import HealthTracker, ProbeResult
from nodekeeper.core.supervise.process import NodeRun

_log = logging.getLogger(__name__)

MEMORY_WATCH_INTERVAL = 1.0
# Until its first healthy answer a node is checked this often, so that
# "running" shows soon after it is up.
FIRST_CHECKS_INTERVAL = 0.5

Probe = Callable[[str, float], ProbeResult]


@dataclass(frozen=True)
class Unhealthy:
    detail: str
    failures: int


@dataclass(frozen=True)
class OverMemory:
    rss: int


async def watch_run(
    run: NodeRun,
    node: NodeConfig,
    limits: LimitsConfig,
    *,
    platform: Platform,
    clock: Clock,
    probe: Probe,
    on_health: Callable[[bool | None], None],
) -> Unhealthy | OverMemory:
    """Watch health, and memory where only a watchdog enforces ``limits.memory_max``."""
    watchers: list[asyncio.Future[Unhealthy | OverMemory]] = [
        asyncio.ensure_future(
            watch_health(
                run, node, platform=platform, clock=clock, probe=probe, on_health=on_health
            )
        )
    ]
    if limits.memory_max is not None and platform.enforced_by(limits) == "watchdog":
        memory = watch_memory(run, limits.memory_max, platform=platform, clock=clock)
        watchers.append(asyncio.ensure_future(memory))
    try:
        done, _ = await asyncio.wait(watchers, return_when=asyncio.FIRST_COMPLETED)
        return done.pop().result()
    finally:
        for watcher in watchers:
            watcher.cancel()


async def watch_health(
    run: NodeRun,
    node: NodeConfig,
    *,
    platform: Platform,
    clock: Clock,
    probe: Probe,
    on_health: Callable[[bool | None], None],
) -> Unhealthy:
    """Check the node until ``node.health_failures`` checks in a row fail.

    ``on_health`` hears every counted verdict (True: healthy, None: the
    health URL never answered within ``node.health_grace``). A frozen
    process fails its checks even without a ``health_url``.
    """
    tracker = HealthTracker(node.health_failures, node.health_grace, run.started_at)
    tracker.ever_healthy = run.ever_healthy  # a reload keeps what this run has shown
    interval = node.health_interval
    url = node.health_url or "the process check"
    last_counted = clock.now()
    warned_unknown = False
    while True:
        await clock.sleep(
            interval if tracker.ever_healthy else min(FIRST_CHECKS_INTERVAL, interval)
        )
        result = await _probe_once(run, node, platform, clock, probe)
        now = clock.now()
        # The frequent first checks count a failure only once per interval.
        if not (result.ok or tracker.ever_healthy or now - last_counted >= interval * 0.95):
            continue
        last_counted = now
        verdict = tracker.record(result, now)
        if verdict == "unknown":
            on_health(None)
            if not warned_unknown:
                warned_unknown = True
                _log.warning(
                    "health URL %s has not answered since the node started %.0fs ago (%s); "
                    "its health is unknown and it is not restarted for that: check "
                    "node.health_url",
                    url,
                    now - run.started_at,
                    result.detail,
                )
            continue
        on_health(verdict == "healthy")
        if verdict == "waiting":
            _log.info(
                "node health check of %s: %s (no answer yet since the start)", url, result.detail
            )
        elif verdict == "restart":
            _log.warning(
                "node unresponsive at %s (%s) after %d checks; restarting it",
                url,
                result.detail,
                tracker.consecutive_failures,
            )
            return Unhealthy(result.detail, tracker.consecutive_failures)
        elif verdict == "failing":
            _log.info(
                "node health check of %s failed (%d/%d): %s",
                url,
                tracker.consecutive_failures,
                node.health_failures,
                result.detail,
            )


async def _probe_once(
    run: NodeRun, node: NodeConfig, platform: Platform, clock: Clock, probe: Probe
) -> ProbeResult:
    try:
        status = platform.status(run.pid)
    except OSError:  # /proc unreadable (EMFILE): the HTTP check below still tells
        status = "running"
    if status in ("stopped", "zombie"):
        return ProbeResult(False, f"process is {status}", process_fault=True)
    if node.health_url is None:
        return ProbeResult(True)
    timeout = node.health_timeout
    checking = asyncio.get_running_loop().run_in_executor(None, probe, node.health_url, timeout)
    try:
        return await wait_for(clock, checking, timeout + 0.5)
    except TimeoutError:
        return ProbeResult(False, f"timed out after {timeout:g}s")


async def watch_memory(
    run: NodeRun, memory_max: int, *, platform: Platform, clock: Clock
) -> OverMemory:
    """Return the node's resident memory once it is above ``memory_max`` (watchdog limits)."""
    loop = asyncio.get_running_loop()
    while True:
        await clock.sleep(MEMORY_WATCH_INTERVAL)
        rss = await loop.run_in_executor(None, platform.tree_rss, run.ident)
        if rss > memory_max:
            _log.error(
                "node uses %d bytes, above limits.memory_max %d; restarting it", rss, memory_max
            )
            return OverMemory(rss)
