"""The switch to a new version and its probation: commit it, or roll back to the old one.

The updater hands a version that is already installed to :class:`Switchover`;
the verdict is the pure ``probation.verdict`` and the pruning choice the pure
``prune.versions_to_remove``. This module never leaves the node without a
runnable version: the switch is recorded in state.json (``pending``) before
the node is restarted on the new version, so a crash at any point resumes
the probation at the next start instead of keeping an untested version.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable

from nodekeeper.core.config import UpdatesConfig
from nodekeeper.core.events import EventBus, utc_now_iso
from nodekeeper.core.state import State, StateStore
from nodekeeper.core.update import probation, prune
from nodekeeper.core.update.install import Installer, Sleep
from nodekeeper.core.update.node import NodeControl
from nodekeeper.core.update.smoke import SmokeTestFailed
from nodekeeper.core.update.store import VersionStore
from nodekeeper.core.update.watch import ProbationWatch

_log = logging.getLogger(__name__)


class Switchover:
    """Switch, probation, commit or roll back; the caller holds the updater's lock.

    ``set_state`` reports the step for status; ``rolled_back`` receives the
    one-line message of a failed probation (the updater's ``last_error``).
    """

    def __init__(
        self,
        updates: UpdatesConfig,
        *,
        states: StateStore,
        store: VersionStore,
        node: NodeControl,
        bus: EventBus,
        installer: Installer,
        sleep: Sleep,
        set_state: Callable[[str], None],
        rolled_back: Callable[[str], None],
    ) -> None:
        self._updates = updates
        self._states = states
        self._store = store
        self._node = node
        self._bus = bus
        self._installer = installer
        self._sleep = sleep
        self._set_state = set_state
        self._rolled_back = rolled_back

    async def switch(self, target: str, action: str) -> None:
        state = self._states.load()
        old = state.current
        # The binary may have vanished since it was installed (anti-virus): test again.
        try:
            await asyncio.get_running_loop().run_in_executor(
                None, self._installer.smoke_test, self._store.binary_path(target), target
            )
        except SmokeTestFailed:
            # Left in place, a binary made non-executable would still count as
            # installed, and every later check would fail here again instead of
            # installing it afresh.
            if target != old:
                await self._installer.discard(target)
                self._states.modify(lambda s: with_installed(s, self._store.installed()))
            raise
        self._states.update(pending={"from": old, "to": target, "started": utc_now_iso()})
        _log.info("switching the node from %s to %s", old, target)
        await self._node.hold("update")
        self._states.update(current=target, previous=old)
        await self._probation(target, old, action, release=True)

    async def resume_pending(self) -> None:
        """Finish the probation of a switch that a stop or crash interrupted."""
        pending = self._states.load().pending
        if pending is None:
            return
        await self._probation(pending["to"], pending.get("from"), "update", release=False)

    async def _probation(self, target: str, old: str | None, action: str, *, release: bool) -> None:
        """Keep ``target`` only if it becomes healthy and stays up for ``probation``.

        With ``release``, the held node is started here, once the watch for
        crashes is in place, so that even an instant crash is seen.
        """
        self._set_state("probation")
        seconds = self._updates.probation
        with ProbationWatch(self._bus) as watch:
            if release:
                await self._node.release()
            started = time.monotonic()
            if await watch.unless_failed(self._node.wait_until_healthy(seconds)):
                await watch.unless_failed(self._sleep(seconds - (time.monotonic() - started)))
        reason = probation.verdict(watch.failure, self._node.status(), seconds)
        if reason is not None:
            await self._roll_back(target, old, reason)
            return
        self._states.update(pending=None)
        self._set_state("idle")
        _log.info("version %s passed probation; committed", target)
        self._bus.publish(
            "update-installed", {"version": target, "previous": old, "action": action}
        )
        await asyncio.get_running_loop().run_in_executor(None, self._prune)

    async def _roll_back(self, failed_version: str, old: str | None, reason: str) -> None:
        self._set_state("rolling-back")
        _log.error(
            "version %s failed probation (%s); rolling back to %s", failed_version, reason, old
        )
        await self._node.hold("update")
        self._states.modify(lambda s: _rolled_back(s, failed_version, old))
        await self._node.release()
        self._set_state("idle")
        self._rolled_back(f"{failed_version} failed probation: {reason}; back on {old}")
        self._bus.publish("rolled-back", {"from": failed_version, "to": old, "reason": reason})

    def _prune(self) -> None:
        state = self._states.load()
        for version in prune.versions_to_remove(
            self._store.installed(),
            current=state.current,
            previous=state.previous,
            keep_versions=self._updates.keep_versions,
        ):
            _log.info("removing old version %s", version)
            self._store.remove(version)
        self._states.modify(lambda s: with_installed(s, self._store.installed()))


def with_installed(state: State, installed: list[str]) -> State:
    return dataclasses.replace(state, installed=tuple(installed))


def _rolled_back(state: State, failed_version: str, old: str | None) -> State:
    quarantined = tuple(dict.fromkeys((*state.quarantined, failed_version)))
    return dataclasses.replace(
        state, current=old, previous=None, pending=None, quarantined=quarantined
    )
