"""The launcher step of ``nodekeeper run``: settle the self-update state, maybe exec.

Runs once the data dir lock is held and before any part of the core is made
(core/commands/run.py). The decision is the pure ``launcher.choose``; this
module reads and writes state.json, finds the installed executable and
exec's it (the lock passes on with the exec).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from nodekeeper.core.config import Config
from nodekeeper.core.errors import NodekeeperError
from nodekeeper.core.events import utc_now_iso
from nodekeeper.core.platform.base import DataDirLock
from nodekeeper.core.selfupdate.handover import (
    HANDOVER_ENV,
    LAUNCHED_ENV,
    exec_core,
    take_record,
)
from nodekeeper.core.selfupdate.launcher import choose
from nodekeeper.core.selfupdate.store import CoreStore
from nodekeeper.core.state import StateStore
from nodekeeper.core.version import remember_packaged_core, running_version

_log = logging.getLogger("nodekeeper.core.service")


@dataclass(frozen=True)
class CoreStart:
    """What the launcher step tells the rest of the start."""

    # Unfinished lines a handing-over core held, by pipe inode.
    partials: Mapping[int, bytes] = field(default_factory=dict)
    # This core is a new version on probation: commit it once it is up.
    on_probation: str | None = None
    # A switch that failed was rolled back: {"version", "reason"} for the event.
    rolled_back: Mapping[str, str] | None = None
    # The probation guard the handing-over core started: our child now, reaped at commit.
    guard_pid: int | None = None


def settle_start(
    config: Config,
    locks: Sequence[DataDirLock],
    args: Sequence[str],
    private: Mapping[str, str],
) -> CoreStart:
    """Record what the last switch came to; exec the current core if it is another one."""
    data_dir = config.paths.data_dir
    states = StateStore(data_dir / "state.json", config.source)
    saved = states.load()
    record = take_record(data_dir)
    handed_over = HANDOVER_ENV in private and record is not None and record.core_pid == os.getpid()
    store = CoreStore(data_dir)
    running = running_version()
    if HANDOVER_ENV not in private and LAUNCHED_ENV not in private:
        remember_packaged_core()  # the core the service manager starts, for a rollback to it
    choice = choose(
        saved.self_update,
        running=running,
        installed=frozenset(store.installed()),
        handed_over=handed_over,
        launched=LAUNCHED_ENV in private,
        now_iso=utc_now_iso(),
        exec_attempted=record is not None
        and saved.self_update.trying is not None
        and record.to_version == saved.self_update.trying.version,
    )
    if choice.state != saved.self_update:
        states.update(self_update=choice.state)
    if choice.message:
        _log.warning("%s", choice.message)
    if choice.exec_version is not None:
        _exec_current(store, choice.exec_version, locks, args, running)
    trying = choice.state.trying
    failure = choice.state.last_failure
    rolled_back = None
    if choice.rolled_back is not None and failure is not None:
        rolled_back = {"version": choice.rolled_back, "reason": str(failure.get("reason"))}
    return CoreStart(
        partials=dict(record.partials) if record is not None else {},
        on_probation=trying.version if trying is not None and handed_over else None,
        rolled_back=rolled_back,
        guard_pid=record.guard_pid if record is not None and handed_over else None,
    )


def _exec_current(
    store: CoreStore,
    version: str,
    locks: Sequence[DataDirLock],
    args: Sequence[str],
    running: str,
) -> None:
    """Become installed core ``version``; returns only when that cannot be done."""
    if sys.platform == "win32":
        _log.warning("core %s is installed; Windows runs it once its service host does", version)
        return
    try:
        executable = store.executable(version)
        _log.info("starting core %s (%s)", version, executable)
        exec_core((str(executable),), args, locks=locks, env={LAUNCHED_ENV: version})
    except (OSError, NodekeeperError) as exc:
        _log.error("cannot start core %s: %s; running core %s instead", version, exc, running)
