"""The update cycle (DESIGN.md §7): check, decide, install, switch, probation, commit or roll back.

The decision is the pure ``decide``; timing is the pure ``CheckScheduler``.
This module is the I/O around them, on the core's event loop, with the slow
steps (network, unpacking, smoke test) in worker threads. It never leaves
the node without a runnable version: a new version only becomes
``current`` after it is installed, smoke-tested and the switch is recorded
in state.json, and it stays only if it passes probation.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nodekeeper.core.config import Config
from nodekeeper.core.errors import NodekeeperError
from nodekeeper.core.events import Event, EventBus, utc_now_iso
from nodekeeper.core.state import State, StateStore
from nodekeeper.core.supervise.supervisor import Supervisor
from nodekeeper.core.update.channel import Channel, Release
from nodekeeper.core.update.decision import Decision, decide, is_rollout_candidate
from nodekeeper.core.update.errors import NotEnoughSpace, UpdateError
from nodekeeper.core.update.nodeid import find_storj_identity, node_id_bytes, random_node_id
from nodekeeper.core.update.scheduler import CheckScheduler
from nodekeeper.core.update.smoke import SmokeTestFailed, smoke_test
from nodekeeper.core.update.sources.factory import ReleaseSource
from nodekeeper.core.update.store import TMP_SUFFIX, VersionStore
from nodekeeper.core.update.unpack import unpack_release
from nodekeeper.core.update.version import Version

_log = logging.getLogger(__name__)

# The new binary may be deleted, locked or made non-executable by an anti-virus
# right after unpacking: retry the install this many times, with these delays.
INSTALL_RETRY_DELAYS = (1.0, 3.0, 10.0)
PROGRESS_STEP = 0.05  # publish update-progress every 5 %


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def resolve_node_id(config: Config, states: StateStore) -> bytes:
    """The rollout bucket: configured, else the Storj identity's, else a persisted random one."""
    if config.updates.node_id:
        return node_id_bytes(config.updates.node_id)
    found = find_storj_identity()
    if found is not None:
        return found
    stored = states.load().node_id
    if stored:
        return bytes.fromhex(stored)
    node_id = random_node_id()
    states.update(node_id=node_id.hex())
    return node_id


@dataclass
class _Progress:
    done: int = 0
    total: int = 0


class Updater:
    def __init__(
        self,
        config: Config,
        *,
        states: StateStore,
        store: VersionStore,
        supervisor: Supervisor,
        bus: EventBus,
        source: ReleaseSource,
        node_id: bytes,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._config = config
        self._updates = config.updates
        self._states = states
        self._store = store
        self._supervisor = supervisor
        self._bus = bus
        self._source = source
        self._node_id = node_id
        self._clock = clock
        self._scheduler = CheckScheduler(
            self._updates.interval, self._updates.jitter, self._updates.startup_delay, rng
        )
        self._downloads = config.paths.data_dir / "downloads"
        self._on_change = on_change
        self._state = "idle"
        self._last_check: float | None = states.load().last_check
        self._last_error: str | None = None
        self._channel: Channel | None = None
        self._candidate = False
        self._progress = _Progress()
        self._notified: str | None = None
        self._wake = asyncio.Event()
        self._busy = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    # -- what status shows ----------------------------------------------------

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self._on_change()

    def enabled(self) -> bool:
        persisted = self._states.load().updates_enabled
        return self._updates.enabled if persisted is None else persisted

    def status(self) -> dict[str, Any]:
        state = self._states.load()
        channel = self._channel
        shown = self._state
        if shown == "idle" and not self.enabled():
            shown = "disabled"
        result: dict[str, Any] = {
            "enabled": self.enabled(),
            "source": self._updates.source,
            "state": shown,
            "last_check": iso(self._last_check),
            "last_error": self._last_error,
            "next_check": iso(self._scheduler.next_check),
            "minimum": channel.minimum.version if channel and channel.minimum else None,
            "suggested": channel.suggested.version if channel and channel.suggested else None,
            "candidate": self._candidate,
            "pending": state.pending,
            "previous": state.previous,
            "quarantined": list(state.quarantined),
        }
        if self._state == "downloading":
            result["progress"] = {"bytes": self._progress.done, "total": self._progress.total}
        return result

    # -- the schedule -----------------------------------------------------------

    async def run(self) -> None:
        """Check on schedule forever (cancelled when the core stops)."""
        await self._resume_pending_probation()
        saved = self._states.load()
        next_at = self._scheduler.first_check(self._clock(), saved.last_check, saved.next_check)
        self._remember_schedule()
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, next_at - self._clock()))
            except TimeoutError:
                next_at = await self._scheduled_check()
                continue
            # check_now ran a check and moved the schedule.
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
        """Persist the schedule: after a reboot the node keeps its place in the fleet's spread."""
        try:
            self._states.update(last_check=self._last_check, next_check=self._scheduler.next_check)
        except NodekeeperError as exc:  # a full or read-only disk must not stop updates
            _log.warning("cannot save the update schedule: %s", exc)

    async def check_now(self) -> dict[str, Any]:
        """The `check` command: check at once, report the decision, install in the background."""
        decision = await self.check(background=True)
        self._scheduler.after_success(self._clock())
        self._remember_schedule()
        self._wake.set()
        return decision.to_json()

    # -- one check ----------------------------------------------------------------

    async def check(self, background: bool = False) -> Decision:
        loop = asyncio.get_running_loop()
        if self._busy.locked():
            raise UpdateError(
                f"an update is in progress ({self._state}); try again when it is done"
            )
        self._set_state("checking")
        try:
            channel = await loop.run_in_executor(None, self._source.fetch_channel)
        except NodekeeperError as exc:
            self._fail(str(exc), during="check")
            raise
        self._last_check = self._clock()
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
        elif decision.action in ("update", "rollback") and decision.target is not None:
            work = self._apply(decision, channel)
            if background:
                self._task = asyncio.create_task(work, name="update")
            else:
                await work
        return decision

    def _fail(self, message: str, during: str, version: str | None = None) -> None:
        self._last_error = message
        self._set_state("error")
        self._on_change()
        _log.error("update %s failed: %s", during, message)
        self._bus.publish("update-failed", {"step": during, "version": version, "reason": message})

    # -- installing ---------------------------------------------------------------

    def _release_for(self, channel: Channel, target: str) -> Release | None:
        for release in (channel.suggested, channel.minimum):
            if release is not None and Version.parse(release.version) == Version.parse(target):
                return release
        return None

    async def _apply(self, decision: Decision, channel: Channel) -> None:
        target = str(decision.target)
        async with self._busy:
            try:
                if not self._store.has(target):
                    release = self._release_for(channel, target)
                    if release is None:
                        raise UpdateError(f"{target} is neither installed nor published")
                    await self._install(release)
                await self._switch(target, decision.action)
            except NodekeeperError as exc:
                self._fail(str(exc), during="install", version=target)
            except OSError as exc:
                self._fail(f"{exc.strerror or exc} ({exc.filename or 'update'})", "install", target)

    async def _install(self, release: Release) -> None:
        loop = asyncio.get_running_loop()
        version = release.version
        self._set_state("downloading")
        self._progress = _Progress()
        self._bus.publish("update-started", {"from": self._states.load().current, "to": version})
        last_share = [-1.0]

        def progress(done: int, total: int) -> None:
            self._progress = _Progress(done, total)
            share = done / total if total else 0.0
            if share - last_share[0] >= PROGRESS_STEP or done == total:
                last_share[0] = share
                loop.call_soon_threadsafe(
                    self._bus.publish,
                    "update-progress",
                    {"version": version, "bytes": done, "total": total},
                )

        await loop.run_in_executor(None, self._check_disk)
        archive = await loop.run_in_executor(
            None,
            lambda: self._source.fetch_release(
                release,
                self._downloads,
                min_free_space=self._updates.min_free_space,
                progress=progress,
            ),
        )
        self._set_state("installing")
        for attempt, delay in enumerate((0.0, *INSTALL_RETRY_DELAYS)):
            await asyncio.sleep(delay)
            try:
                await loop.run_in_executor(None, self._unpack_and_test, archive, version)
                break
            except (NodekeeperError, OSError) as exc:
                # OSError: e.g. the rename into place refused while a scanner holds the folder.
                problem = _describe(exc)
                if attempt == len(INSTALL_RETRY_DELAYS):
                    await self._discard(version)
                    raise UpdateError(
                        f"installing {version} failed {attempt + 1} times: {problem}"
                    ) from None
                _log.warning(
                    "installing %s failed (%s); retrying in %gs",
                    version,
                    problem,
                    INSTALL_RETRY_DELAYS[attempt],
                )
        archive.unlink(missing_ok=True)
        self._states.modify(lambda s: _with_installed(s, self._store.installed()))

    def _check_disk(self) -> None:
        """Refuse, before anything is downloaded, an install the data dir cannot take.

        A read-only or full disk is found here with one clear line, instead
        of part-way through a download or an unpack.
        """
        for folder in (self._downloads, self._store.root):
            try:
                folder.mkdir(parents=True, exist_ok=True)
                with tempfile.TemporaryFile(dir=folder):
                    pass
            except OSError as exc:
                raise UpdateError(
                    f"cannot write to {folder} ({exc.strerror or exc}); "
                    "updating needs a writable data dir"
                ) from None
        free = shutil.disk_usage(self._downloads).free
        if free < self._updates.min_free_space:
            raise NotEnoughSpace(
                f"not enough disk space in {self._downloads}: {free // 2**20} MiB free, "
                f"updates.min_free_space is {self._updates.min_free_space // 2**20} MiB"
            )

    async def _discard(self, version: str) -> None:
        """Remove a version that failed to install, staging folder included.

        Whatever blocked the install (an anti-virus scan) may still hold the
        folders for a moment: retry the removal with the install's delays.
        """
        loop = asyncio.get_running_loop()
        for delay in (0.0, *INSTALL_RETRY_DELAYS):
            await asyncio.sleep(delay)
            left = await loop.run_in_executor(None, self._remove_version, version)
            if not left:
                return
        _log.warning("cannot remove %s; retried at the next install or start", ", ".join(left))

    def _remove_version(self, version: str) -> list[str]:
        """Remove ``<v>`` and ``<v>.tmp``; the paths that are still there."""
        names = (version, version + TMP_SUFFIX)
        for name in names:
            self._store.remove(name)
        return [str(self._store.root / n) for n in names if (self._store.root / n).exists()]

    def _unpack_and_test(self, archive: Path, version: str) -> None:
        staging = self._store.staging_dir(version)
        unpack_release(archive, staging, binary_name=self._store.binary_name)
        binary = self._store.commit_staging(version)
        smoke_test(binary, version)

    # -- switching, probation, rollback ---------------------------------------------

    async def _switch(self, target: str, action: str) -> None:
        state = self._states.load()
        old = state.current
        # The binary may have vanished since it was installed (anti-virus): test again.
        try:
            await asyncio.get_running_loop().run_in_executor(
                None, smoke_test, self._store.binary_path(target), target
            )
        except SmokeTestFailed:
            # Left in place, a binary made non-executable would still count as
            # installed, and every later check would fail here again instead of
            # installing it afresh.
            if target != old:
                await self._discard(target)
                self._states.modify(lambda s: _with_installed(s, self._store.installed()))
            raise
        self._states.update(pending={"from": old, "to": target, "started": utc_now_iso()})
        _log.info("switching the node from %s to %s", old, target)
        await self._supervisor.stop_node("update")
        self._states.update(current=target, previous=old)
        await self._supervisor.start_node()
        await self._probation(target, old, action)

    async def _resume_pending_probation(self) -> None:
        pending = self._states.load().pending
        if pending is None:
            return
        async with self._busy:
            await self._probation(pending["to"], pending.get("from"), "update")

    async def _probation(self, target: str, old: str | None, action: str) -> None:
        self._set_state("probation")
        seconds = self._updates.probation
        failed = asyncio.Event()
        reason: list[str] = []
        loop = asyncio.get_running_loop()

        def watch(event: Event) -> None:
            bad = (event.kind == "node-exited" and not event.data.get("requested")) or (
                event.kind == "node-unhealthy"
            )
            if bad:
                detail = event.data.get("detail") or event.data.get("reason") or event.kind
                loop.call_soon_threadsafe(_fail_once, failed, reason, f"{event.kind}: {detail}")

        unsubscribe = self._bus.subscribe(watch)
        try:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(failed.wait(), timeout=seconds)
        finally:
            unsubscribe()
        node = self._supervisor.status()
        if not failed.is_set() and not (node["state"] == "running" and node["healthy"]):
            reason.append(
                f"not running and healthy after {seconds:g}s of probation ({node['state']})"
            )
        if reason:
            await self._roll_back(target, old, reason[0])
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
        await self._supervisor.stop_node("update")
        self._states.modify(lambda s: _rolled_back(s, failed_version, old))
        await self._supervisor.start_node()
        self._set_state("idle")
        self._last_error = f"{failed_version} failed probation: {reason}; back on {old}"
        self._bus.publish("rolled-back", {"from": failed_version, "to": old, "reason": reason})

    def _prune(self) -> None:
        state = self._states.load()
        keep = {v for v in (state.current, state.previous) if v}
        installed = self._store.installed()
        by_age = sorted(installed, key=Version.parse, reverse=True)
        for version in by_age:
            if len(keep) >= self._updates.keep_versions:
                break
            keep.add(version)
        for version in installed:
            if version not in keep:
                _log.info("removing old version %s", version)
                self._store.remove(version)
        self._states.modify(lambda s: _with_installed(s, self._store.installed()))


def _describe(exc: BaseException) -> str:
    """One line for ``last_error``: nodekeeper's own message, or what the OS refused and where."""
    if isinstance(exc, OSError) and not isinstance(exc, NodekeeperError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    return str(exc)


def _fail_once(failed: asyncio.Event, reason: list[str], message: str) -> None:
    if not failed.is_set():
        reason.append(message)
        failed.set()


def _with_installed(state: State, installed: list[str]) -> State:
    import dataclasses

    return dataclasses.replace(state, installed=tuple(installed))


def _rolled_back(state: State, failed_version: str, old: str | None) -> State:
    import dataclasses

    quarantined = tuple(dict.fromkeys((*state.quarantined, failed_version)))
    return dataclasses.replace(
        state, current=old, previous=None, pending=None, quarantined=quarantined
    )
