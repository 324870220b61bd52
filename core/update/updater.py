"""The update cycle (docs/updates.md): check, decide, install, switch, probation, commit or roll back.

The decision is the pure ``decide``; timing is the pure ``CheckScheduler``,
run by ``checks.ScheduledChecks`` (shared with the core's own updater).
This module is the I/O around them, on the core's event loop, with the slow
steps (network, unpacking, smoke test) in worker threads; the switch and its
probation are ``switchover.Switchover``, the status dict ``status``. It never leaves
the node without a runnable version: a new version only becomes
``current`` after it is installed, smoke-tested and the switch is recorded
in state.json, and it stays only if it passes probation.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import Callable
from typing import Any

from nodekeeper.core.config import Config
from nodekeeper.core.errors import NodekeeperError
from nodekeeper.core.events import EventBus, utc_now_iso
from nodekeeper.core.state import StateStore
from nodekeeper.core.update.channel import Channel, Release
from nodekeeper.core.update.checks import ScheduledChecks, release_for
from nodekeeper.core.update.decision import Decision, decide, is_rollout_candidate
from nodekeeper.core.update.errors import UpdateError
from nodekeeper.core.update.install import Installer, Sleep, SmokeTest
from nodekeeper.core.update.node import NodeControl
from nodekeeper.core.update.progress import DownloadProgress
from nodekeeper.core.update.smoke import smoke_test
from nodekeeper.core.update.sources.factory import ReleaseSource
from nodekeeper.core.update.status import update_status
from nodekeeper.core.update.store import VersionStore
from nodekeeper.core.update.switchover import Switchover, with_installed
from nodekeeper.core.update.version import Version

_log = logging.getLogger(__name__)


class Updater(ScheduledChecks):
    def __init__(
        self,
        config: Config,
        *,
        states: StateStore,
        store: VersionStore,
        node: NodeControl,
        bus: EventBus,
        source: ReleaseSource,
        node_id: bytes,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Sleep = asyncio.sleep,
        smoke: SmokeTest = smoke_test,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(config.updates, rng=rng, clock=clock, last_check=states.load().last_check)
        self._config = config
        self._updates = config.updates
        self._states = states
        self._store = store
        self._node = node
        self._bus = bus
        self._source = source
        self._node_id = node_id
        self._downloads = config.paths.data_dir / "downloads"
        self._sleep = sleep
        self._installer = Installer(
            store,
            self._downloads,
            min_free_space=self._updates.min_free_space,
            smoke_test=smoke,
            sleep=sleep,
        )
        self._on_change = on_change
        self._state = "idle"
        self._last_error: str | None = None
        # The last failure, kept until a different one replaces it: a quiet check
        # clears last_error (the contract: the current trouble) but not this.
        self._last_failure: dict[str, str] | None = None
        self._channel: Channel | None = None
        self._candidate = False
        self._progress = DownloadProgress("", lambda data: None)
        self._notified: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._switchover = self._new_switchover()

    def _new_switchover(self) -> Switchover:
        return Switchover(
            self._updates,
            states=self._states,
            store=self._store,
            node=self._node,
            bus=self._bus,
            installer=self._installer,
            sleep=self._sleep,
            set_state=self._set_state,
            rolled_back=self._rolled_back,
        )

    def reconfigure(self, config: Config, *, source: ReleaseSource, node_id: bytes) -> None:
        """Use a reloaded ``[updates]`` section from now on (an install under way finishes first).

        The next check keeps its place in the schedule unless the new
        interval brings it closer.
        """
        updates = config.updates
        self._reschedule(updates)
        self._config, self._updates = config, updates
        self._source, self._node_id = source, node_id
        self._installer = Installer(
            self._store,
            self._downloads,
            min_free_space=updates.min_free_space,
            smoke_test=self._installer.smoke_test,
            sleep=self._sleep,
        )
        self._switchover = self._new_switchover()
        self._remember_schedule()
        self._wake.set()  # run() picks up the new next check
        self._on_change()

    # -- what status shows ----------------------------------------------------

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self._on_change()

    def enabled(self) -> bool:
        persisted = self._states.load().updates_enabled
        return self._updates.enabled if persisted is None else persisted

    def status(self) -> dict[str, Any]:
        return update_status(
            self._states.load(),
            enabled=self.enabled(),
            source=self._updates.source,
            state=self._state,
            last_check=self._last_check,
            last_error=self._last_error,
            last_failure=self._last_failure,
            next_check=self._scheduler.next_check,
            channel=self._channel,
            candidate=self._candidate,
            progress=self._progress,
        )

    # -- the schedule (ScheduledChecks) -------------------------------------------

    def _saved_schedule(self) -> tuple[float | None, float | None]:
        saved = self._states.load()
        return saved.last_check, saved.next_check

    def _save_schedule(self, last_check: float | None, next_check: float | None) -> None:
        self._states.update(last_check=last_check, next_check=next_check)

    async def _before_checks(self) -> None:
        await self._resume_pending_probation()

    # -- one check ----------------------------------------------------------------

    async def check(self, background: bool = False) -> Decision:
        if self._busy.locked():
            raise UpdateError(
                f"an update is in progress ({self._state}); try again when it is done"
            )
        self._set_state("checking")
        channel = await self._fetch_channel(self._source)
        self._last_error = None
        self._channel = channel
        self._candidate = is_rollout_candidate(channel, self._node_id)
        state = self._states.load()
        decision = decide(
            current=Version.parse(state.current) if state.current else None,
            channel=channel,
            node_id=self._node_id,
            quarantined=[Version.parse(v) for v in state.quarantined],
            installed=[Version.parse(v) for v in self._store.installed()],
            enabled=self.enabled(),
        )
        _log.info("update check: %s", decision.reason)
        self._set_state("idle")
        if decision.action == "notify" and decision.target is not None:
            if self._notified != str(decision.target):
                self._notified = str(decision.target)
                self._bus.publish(
                    "update-available",
                    {
                        "version": str(decision.target),
                        "current": state.current,
                        "reason": decision.reason,
                    },
                )
        elif decision.action in ("update", "rollback") and self._held_by_operator():
            # Nothing is installed while the operator keeps the node stopped (disk moves):
            # the check still reports, and the next check after `start` installs.
            decision = dataclasses.replace(
                decision, reason=f"{decision.reason}; waits: the node is stopped by the operator"
            )
            _log.info("update to %s waits: the node is stopped by the operator", decision.target)
        elif decision.action in ("update", "rollback") and decision.target is not None:
            work = self._apply(decision, channel)
            if background:
                self._task = asyncio.create_task(work, name="update")
            else:
                await work
        return decision

    def _remember_failure(self, message: str) -> None:
        self._last_failure = {"message": message, "time": utc_now_iso()}

    def _rolled_back(self, message: str) -> None:
        self._last_error = message
        self._remember_failure(message)

    def _held_by_operator(self) -> bool:
        return self._node.status().get("stopped_by_operator") is True

    def busy(self) -> bool:
        """True while an update or rollback is being installed or on probation."""
        return self._busy.locked() or self._state in ("installing", "probation", "rolling-back")

    def _fail(self, message: str, during: str, version: str | None = None) -> None:
        self._last_error = message
        self._remember_failure(message)
        self._set_state("error")
        self._on_change()
        _log.error("update %s failed: %s", during, message)
        self._bus.publish("update-failed", {"step": during, "version": version, "reason": message})

    # -- installing ---------------------------------------------------------------

    async def _apply(self, decision: Decision, channel: Channel) -> None:
        target = str(decision.target)
        async with self._busy:
            try:
                if not self._store.has(target):
                    release = release_for(channel, target)
                    if release is None:
                        raise UpdateError(f"{target} is neither installed nor published")
                    await self._install(release)
                await self._switchover.switch(target, decision.action)
            except NodekeeperError as exc:
                self._fail(str(exc), during="install", version=target)
            except OSError as exc:
                self._fail(f"{exc.strerror or exc} ({exc.filename or 'update'})", "install", target)

    async def _install(self, release: Release) -> None:
        loop = asyncio.get_running_loop()
        version = release.version
        self._set_state("downloading")
        self._bus.publish("update-started", {"from": self._states.load().current, "to": version})

        def publish(data: dict[str, Any]) -> None:
            loop.call_soon_threadsafe(self._bus.publish, "update-progress", data)

        progress = self._progress = DownloadProgress(version, publish)

        await loop.run_in_executor(None, self._installer.check_disk)
        archive = await self._download(
            self._source,
            release,
            self._downloads,
            min_free_space=self._updates.min_free_space,
            progress=progress,
        )
        self._set_state("installing")
        await self._installer.install(archive, version)
        archive.unlink(missing_ok=True)
        self._states.modify(lambda s: with_installed(s, self._store.installed()))

    async def _resume_pending_probation(self) -> None:
        if self._states.load().pending is None:
            return
        async with self._busy:
            await self._switchover.resume_pending()
