"""Checking a release source on schedule: the loop shared by the node's and the core's updaters.

:class:`ScheduledChecks` owns the :class:`CheckScheduler` (interval,
jitter, startup delay, back-off on failure and ``Retry-After``), runs
``check()`` when it is due, lets ``check_now`` move the schedule, and
persists the schedule through one seam (``_save_schedule``) so a restart
keeps this machine's place in the fleet's spread. It also holds the steps
both updaters take through a release source: fetching the verified channel
and downloading a verified release. Subclasses supply the check itself:
which source, what to decide, what to install.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nodekeeper.core.config import UpdatesConfig
from nodekeeper.core.errors import NodekeeperError
from nodekeeper.core.update.channel import Channel, Release
from nodekeeper.core.update.decision import Decision
from nodekeeper.core.update.errors import UpdateError
from nodekeeper.core.update.scheduler import CheckScheduler
from nodekeeper.core.update.sources.factory import Progress, ReleaseSource
from nodekeeper.core.update.version import Version

_log = logging.getLogger(__name__)


class ScheduledChecks:
    def __init__(
        self,
        schedule: UpdatesConfig,
        *,
        rng: random.Random | None,
        clock: Callable[[], float] = time.time,
        last_check: float | None,
    ) -> None:
        self._clock = clock
        self._scheduler = CheckScheduler(
            schedule.interval, schedule.jitter, schedule.startup_delay, rng
        )
        self._last_check = last_check
        self._wake = asyncio.Event()
        self._busy = asyncio.Lock()

    # -- what a subclass supplies -----------------------------------------------

    async def check(self, background: bool = False) -> Decision:
        raise NotImplementedError

    def _saved_schedule(self) -> tuple[float | None, float | None]:
        """(last_check, next_check) as last saved."""
        raise NotImplementedError

    def _save_schedule(self, last_check: float | None, next_check: float | None) -> None:
        raise NotImplementedError

    async def _before_checks(self) -> None:
        """Runs once before the first check (e.g. finishing a switch a restart interrupted)."""

    def _fail(self, message: str, during: str, version: str | None = None) -> None:
        """Record and report a failed step (``during``: check, install, ...)."""
        raise NotImplementedError

    # -- the steps both updaters take, through the same sources -------------------

    async def _fetch_channel(self, source: ReleaseSource) -> Channel:
        """The source's verified channel (a worker thread); a failure is recorded, then raised."""
        loop = asyncio.get_running_loop()
        try:
            channel = await loop.run_in_executor(None, source.fetch_channel)
        except NodekeeperError as exc:
            self._fail(str(exc), during="check")
            raise
        self._last_check = self._clock()
        return channel

    async def _download(
        self,
        source: ReleaseSource,
        release: Release,
        downloads: Path,
        *,
        min_free_space: int,
        progress: Progress | None,
    ) -> Path:
        """``release`` for this platform, downloaded and verified (a worker thread)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            None,
            lambda: source.fetch_release(
                release, downloads, min_free_space=min_free_space, progress=progress
            ),
        )

    # -- the schedule -----------------------------------------------------------

    async def run(self) -> None:
        """Check on schedule forever (cancelled when the core stops)."""
        await self._before_checks()
        last, upcoming = self._saved_schedule()
        next_at = self._scheduler.first_check(self._clock(), last, upcoming)
        self._remember_schedule()
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, next_at - self._clock()))
            except TimeoutError:
                next_at = await self._scheduled_check()
                continue
            # check_now ran a check or the configuration moved the schedule.
            self._wake.clear()
            next_at = self._scheduler.next_check or next_at

    async def _scheduled_check(self) -> float:
        if self._busy.locked():
            next_at = self._scheduler.after_success(self._clock())
        else:
            try:
                await self.check()
                next_at = self._scheduler.after_success(self._clock())
            except UpdateError as exc:
                next_at = self._scheduler.after_failure(self._clock(), exc.retry_after)
            except NodekeeperError:
                next_at = self._scheduler.after_failure(self._clock())
        self._remember_schedule()
        return next_at

    def _remember_schedule(self) -> None:
        """Persist the schedule: after a reboot the machine keeps its place in the fleet's spread."""
        try:
            self._save_schedule(self._last_check, self._scheduler.next_check)
        except NodekeeperError as exc:  # a full or read-only disk must not stop updates
            _log.warning("cannot save the update schedule: %s", exc)

    def _reschedule(self, schedule: UpdatesConfig) -> None:
        """A reloaded schedule: the next check keeps its place unless the new interval is shorter."""
        old = self._scheduler
        scheduler = CheckScheduler(
            schedule.interval, schedule.jitter, schedule.startup_delay, old._rng
        )
        scheduler.failures, scheduler.not_before = old.failures, old.not_before
        if old.next_check is not None:
            scheduler.next_check = min(old.next_check, self._clock() + scheduler.interval)
        self._scheduler = scheduler

    async def check_now(self) -> dict[str, Any]:
        """The `check` command: check at once, report the decision, install in the background."""
        decision = await self.check(background=True)
        self._scheduler.after_success(self._clock())
        self._remember_schedule()
        self._wake.set()
        return decision.to_json()


def release_for(channel: Channel, target: str) -> Release | None:
    """The channel's release of version ``target`` (suggested or minimum), if it publishes one."""
    for release in (channel.suggested, channel.minimum):
        if release is not None and Version.parse(release.version) == Version.parse(target):
            return release
    return None
