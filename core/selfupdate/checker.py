"""The core's own update check: find, verify and install a new core, then hand it to ``switch``.

:class:`SelfUpdater` is the node updater's cycle applied to the core: the
same schedule (``ScheduledChecks`` on ``[updates]`` interval, jitter and
back-off), the same rules (``decide``: minimum, suggested, rollout,
revoked, quarantine) on the *running core's* version, the same sources and
verified downloads (TUF channel ``nodekeeper`` by default, or signed
GitHub releases). A decided version is downloaded for this platform,
installed with :meth:`CoreStore.install_archive` and passed to the
injected ``switch``, which hands the node over to the new core and, on
success, never returns. If it returns or raises, the attempt counts as
failed for the back-off. With updates off for the core (the config or
``updates off --self``) it checks and shows what is available, never
installs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from nodekeeper.core.config import Config
from nodekeeper.core.errors import NodekeeperError
from nodekeeper.core.events import utc_now_iso
from nodekeeper.core.selfupdate.state import SelfUpdateState
from nodekeeper.core.selfupdate.store import CoreStore
from nodekeeper.core.state import StateStore
from nodekeeper.core.update.channel import Channel
from nodekeeper.core.update.checks import ScheduledChecks, release_for
from nodekeeper.core.update.decision import Decision, decide
from nodekeeper.core.update.errors import UpdateError
from nodekeeper.core.update.install import describe
from nodekeeper.core.update.sources.factory import ReleaseSource
from nodekeeper.core.update.status import iso
from nodekeeper.core.update.version import Version
from nodekeeper.core.version import running_version

_log = logging.getLogger(__name__)

Switch = Callable[[str], Awaitable[None]]


def _versions(texts: Iterable[str]) -> list[Version]:
    """The versions among ``texts``; a name that is not one (a stray folder) counts for nothing."""
    found = []
    for text in texts:
        try:
            found.append(Version.parse(text))
        except ValueError:
            _log.warning("self-update: ignoring %r, which is not a version", text)
    return found


class SelfUpdater(ScheduledChecks):
    def __init__(
        self,
        config: Config,
        *,
        states: StateStore,
        store: CoreStore,
        source: ReleaseSource | None,
        node_id: bytes,
        switch: Switch,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
        on_change: Callable[[], None] = lambda: None,
        running: Callable[[], str] = running_version,
    ) -> None:
        super().__init__(
            config.updates, rng=rng, clock=clock, last_check=states.load().self_update.last_check
        )
        self._config = config
        self._states = states
        self._store = store
        self._source = source
        self._node_id = node_id
        self._switch = switch
        self._on_change = on_change
        self._running = running
        self._downloads = config.paths.data_dir / "downloads"
        self._state = "idle"
        self._last_error: str | None = None
        self._channel: Channel | None = None
        self._decision: Decision | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def node_id(self) -> bytes:
        return self._node_id

    def reconfigure(self, config: Config, *, source: ReleaseSource | None, node_id: bytes) -> None:
        """Use a reloaded ``[self_update]`` and schedule from now on."""
        self._reschedule(config.updates)
        self._config, self._source, self._node_id = config, source, node_id
        self._remember_schedule()
        self._wake.set()
        self._on_change()

    # -- what status shows ------------------------------------------------------

    def _saved(self) -> SelfUpdateState:
        return self._states.load().self_update

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self._on_change()

    def enabled(self) -> bool:
        persisted = self._saved().updates_enabled
        return self._config.self_update.enabled if persisted is None else persisted

    def busy(self) -> bool:
        return self._busy.locked()

    def status(self) -> dict[str, Any]:
        """The ``self_update`` part of the status object (docs/contract.md, Status object)."""
        saved = self._saved()
        state = self._state
        if self._source is None:
            state = "unconfigured"
        elif state == "idle" and not self.enabled():
            state = "disabled"
        channel = self._channel
        suggested = channel.suggested.version if channel and channel.suggested else None
        target = self._decision.target if self._decision else None
        return {
            "enabled": self.enabled(),
            "source": self._config.self_update.source if self._source else None,
            "channel": self._config.self_update.channel,
            "state": state,
            "current": self._running(),
            "latest": suggested,
            "target": None if target is None else str(target),
            "installed": list(self._store.installed()),
            "last_check": iso(self._last_check),
            "next_check": iso(self._scheduler.next_check) if self._source else None,
            "last_error": self._last_error,
            "last_failure": None if saved.last_failure is None else dict(saved.last_failure),
            "previous": saved.previous,
            "quarantined": list(saved.quarantined),
            "trying": None if saved.trying is None else saved.trying.to_dict(),
        }

    # -- the schedule (ScheduledChecks) -----------------------------------------

    def _saved_schedule(self) -> tuple[float | None, float | None]:
        saved = self._saved()
        return saved.last_check, saved.next_check

    def _save_schedule(self, last_check: float | None, next_check: float | None) -> None:
        self._states.modify(
            lambda s: dataclasses.replace(
                s,
                self_update=dataclasses.replace(
                    s.self_update, last_check=last_check, next_check=next_check
                ),
            )
        )

    async def run(self) -> None:
        # Without a source there is nothing to check until a reload brings one.
        while self._source is None:
            await self._wake.wait()
            self._wake.clear()
        await super().run()

    # -- one check --------------------------------------------------------------

    async def check(self, background: bool = False) -> Decision:
        source = self._source
        if source is None:
            raise UpdateError(
                "the core has no release source: set [self_update] url and trusted_root, "
                "or use a tuf [updates] source"
            )
        if self._busy.locked():
            raise UpdateError(f"a self-update is in progress ({self._state}); try again later")
        self._set_state("checking")
        channel = await self._fetch_channel(source)
        self._last_error = None
        self._channel = channel
        saved = self._saved()
        running = self._running()
        try:
            current = Version.parse(running)
        except ValueError:
            self._fail(f"the running core {running!r} is not a release version", during="check")
            raise UpdateError(f"the running core {running!r} is not a release version") from None
        decision = decide(
            current=current,
            channel=channel,
            node_id=self._node_id,
            quarantined=_versions(saved.quarantined),
            installed=_versions(self._store.installed()),
            enabled=self.enabled(),
        )
        self._decision = decision
        _log.info("self-update check: %s", decision.reason)
        self._set_state("idle")
        if decision.action in ("update", "rollback") and decision.target is not None:
            work = self._apply(str(decision.target), channel)
            if background:
                self._task = asyncio.create_task(work, name="self-update")
            else:
                await work
                if self._last_error is not None:
                    raise UpdateError(self._last_error)  # for the back-off
        return decision

    async def _apply(self, version: str, channel: Channel) -> None:
        async with self._busy:
            step = "install"
            try:
                if not self._store.has(version):
                    await self._install(version, channel)
                step = "switch"
                self._set_state("switching")
                _log.info("self-update: switching to core %s", version)
                await self._switch(version)
                # A switch that works never comes back: the new core runs in this process.
                raise UpdateError(f"the switch to core {version} did not take place")
            except (NodekeeperError, OSError) as exc:
                self._fail(describe(exc), during=step, version=version)
            except Exception as exc:  # the switch is another part's code: never let it kill us
                self._fail(f"{type(exc).__name__}: {exc}", during=step, version=version)

    async def _install(self, version: str, channel: Channel) -> None:
        loop = asyncio.get_running_loop()
        release = release_for(channel, version)
        if release is None:
            raise UpdateError(f"core {version} is neither installed nor published")
        source = self._source
        assert source is not None  # check() returns before _apply without one
        self._set_state("downloading")
        archive = await self._download(
            source,
            release,
            self._downloads,
            min_free_space=self._config.updates.min_free_space,
            progress=None,
        )
        self._set_state("installing")
        try:
            await loop.run_in_executor(None, self._store.install_archive, version, archive)
        finally:
            archive.unlink(missing_ok=True)
        _log.info("self-update: core %s verified and installed in %s", version, self._store.root)
        # Older downloads of cores never run: current, previous and trying always stay.
        removed = await loop.run_in_executor(None, self._store.prune, {version})
        if removed:
            _log.info("self-update: removed unused core versions %s", ", ".join(removed))

    def _fail(self, message: str, during: str, version: str | None = None) -> None:
        self._last_error = message
        self._set_state("error")
        _log.error("self-update %s failed: %s", during, message)
        if version is None:
            return
        failure = {"version": version, "reason": message, "time": utc_now_iso()}
        try:
            self._states.modify(
                lambda s: dataclasses.replace(
                    s, self_update=dataclasses.replace(s.self_update, last_failure=failure)
                )
            )
        except NodekeeperError as exc:
            _log.warning("cannot record the self-update failure: %s", exc)
