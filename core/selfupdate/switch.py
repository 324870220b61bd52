"""Switching to a new core (old core's side) and committing it (new core's side).

:func:`switch_core` is what the self-updater calls once a verified bundle is
installed: it checks that the node can be handed over now, smoke-tests the
new executable, records the switch (``trying``, phase ``handing-over``) and
asks ``serve`` to end the core *without* stopping the node; the exec happens
in core/commands/run.py. :func:`commit_when_ready` runs in the new core: it
commits the switch once the core took the node over and answers on its
socket, within ``[self_update] probation``; otherwise it ends the core, again
without stopping the node, and the launcher step of the next start brings the
previous core back (core/selfupdate/launcher.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nodekeeper.core.events import utc_now_iso
from nodekeeper.core.selfupdate.handover import SwitchFailed, core_env, remove_record
from nodekeeper.core.selfupdate.state import Trying
from nodekeeper.core.selfupdate.store import CoreStore
from nodekeeper.core.version import packaged_core, running_version

if TYPE_CHECKING:
    from nodekeeper.core.running import Core

_log = logging.getLogger(__name__)

SMOKE_TIMEOUT = 60.0
# Node states in which the node can be handed over as it is.
HANDOVER_STATES = frozenset({"running", "stopped"})
ANSWER_TIMEOUT = 5.0
READY_POLL = 0.2


@dataclass(frozen=True)
class Handover:
    """What ``serve`` hands to run.py for the exec: the new core's version and command."""

    version: str
    command: tuple[str, ...]  # what to exec, before ``run --config ...``


async def switch_core(core: Core, version: str) -> None:
    """Hand the node over to installed core ``version``; returns only by raising SwitchFailed."""
    store = CoreStore(core.config.paths.data_dir)
    try:
        command = (str(store.executable(version)),)
    except Exception as exc:
        raise SwitchFailed(f"core {version} is not installed properly: {exc}") from None
    handover = await prepare_switch(core, version, command)
    begin_switch(core, handover)
    await asyncio.Event().wait()  # the hand-over cancels this task


async def prepare_switch(core: Core, version: str, command: tuple[str, ...]) -> Handover:
    """Check that the node can be handed over now and that the new core starts."""
    if sys.platform == "win32":
        raise SwitchFailed(
            f"core {version} is installed; switching a running core needs the Windows "
            "service host, which this version does not have yet"
        )
    check_switch_now(core)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, smoke_test_core, command, version)
    return Handover(version, command)


def check_switch_now(core: Core) -> None:
    """SwitchFailed unless the node (every node of the process) can be handed over now."""
    for each in (core, *core.companions()):
        of = "" if each is core else f"instance {each.config.instance}: "
        if each.stop_requested or each.leave_running:
            raise SwitchFailed(f"{of}the core is stopping")
        node_state = each.supervisor.status().get("state")
        if node_state not in HANDOVER_STATES:
            raise SwitchFailed(f"{of}the node is {node_state}; the core switches once it runs")
        if each.updater.busy():
            raise SwitchFailed(f"{of}a node update is in progress; the core switches after it")


def begin_switch(core: Core, handover: Handover, *, quarantine: str | None = None) -> None:
    """Record the switch and end this core without stopping the node (run.py exec's).

    Checked again here: the start test ran for a while, and the node may have
    crashed or an update begun meanwhile (SwitchFailed then)."""
    check_switch_now(core)
    saved = core.states.load().self_update
    trying = Trying(handover.version, saved.current, utc_now_iso(), "handing-over")
    quarantined = saved.quarantined
    if quarantine is not None and quarantine not in quarantined:
        quarantined = (*quarantined, quarantine)
    core.states.update(
        self_update=dataclasses.replace(saved, trying=trying, quarantined=quarantined)
    )
    _log.info(
        "switching from core %s to core %s: handing the node over (pid %s)",
        running_version(),
        handover.version,
        core.supervisor.status().get("pid"),
    )
    core.request_handover(handover)


def rollback_target(core: Core) -> tuple[str, tuple[str, ...]]:
    """The core to go back to: ``previous`` if installed and not quarantined, else the
    packaged core."""
    saved = core.states.load().self_update
    store = CoreStore(core.config.paths.data_dir)
    previous = saved.previous
    if previous is not None and previous not in saved.quarantined and store.has(previous):
        return previous, (str(store.executable(previous)),)
    packaged = packaged_core()
    if (
        saved.current is None
        or packaged is None
        or packaged[0] == running_version()
        or packaged[0] in saved.quarantined
    ):
        raise SwitchFailed(
            f"there is no earlier core to go back to: core {running_version()} is the packaged one"
        )
    return packaged


def smoke_test_core(command: tuple[str, ...], version: str) -> None:
    """``<core> --version`` must start and name ``version``; SwitchFailed otherwise."""
    shown = " ".join(command)
    try:
        done = subprocess.run(
            [*command, "--version"],
            env=core_env(),
            capture_output=True,
            timeout=SMOKE_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise SwitchFailed(f"core {version} does not start ({shown}): {exc}") from None
    output = done.stdout.decode(errors="replace")
    first = output.strip().splitlines()[0] if output.strip() else ""
    if done.returncode != 0 or version not in first.split():
        said = (done.stderr.decode(errors="replace").strip().splitlines() or [first or "nothing"])[
            -1
        ]
        raise SwitchFailed(
            f"core {version} failed its start test ({shown} --version exited "
            f"{done.returncode}: {said[:200]})"
        )


class ProbationFailed(Exception):
    """The new core did not take the node over and answer within the bound."""


async def commit_when_ready(core: Core, version: str, within: float) -> None:
    """Commit the switch to ``version`` (this core) once it is up; ProbationFailed after
    ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    socket = str(core.config.paths.socket)
    while loop.time() < deadline:
        if await _up(core, version):
            commit(core, version)
            guard = core.start.guard_pid if core.start is not None else None
            await loop.run_in_executor(None, reap_guard, guard)
            return
        await asyncio.sleep(READY_POLL)
    raise ProbationFailed(
        f"core {version} did not take the node over and answer on {socket} within {within:g}s"
    )


async def confirm_started(core: Core) -> None:
    """A launched current core: once it is up, its starts no longer count as failed."""
    version = running_version()
    while not await _up(core, version):
        await asyncio.sleep(READY_POLL)
    saved = core.states.load().self_update
    if saved.start_attempts:
        core.states.update(self_update=dataclasses.replace(saved, start_attempts=0))


async def _up(core: Core, version: str) -> bool:
    """This core (``version``) has the node and answers on its own socket; so does every
    other instance of the process."""
    loop = asyncio.get_running_loop()
    for each in (core, *core.companions()):
        if not _node_in_hand(each):
            return False
        socket = str(each.config.paths.socket)
        if not await loop.run_in_executor(None, _answers, socket, version):
            return False
    return True


def _node_in_hand(core: Core) -> bool:
    """The supervisor has the node: taken over or started (or held by the operator); a node
    that crashes meanwhile is the node's trouble, not the new core's."""
    status = core.supervisor.status()
    return bool(status.get("stopped_by_operator")) or status.get("state") != "stopped"


def _answers(socket: str, version: str) -> bool:
    from nodekeeper.core.errors import NodekeeperError
    from nodekeeper.core.ipc.client import Client

    try:
        with Client(socket, timeout=ANSWER_TIMEOUT) as client:
            return client.core_version == version
    except (NodekeeperError, OSError):
        return False


def commit(core: Core, version: str) -> None:
    """Make ``version`` the current core; the one before it stays as ``previous``."""
    saved = core.states.load().self_update
    trying = saved.trying
    if trying is None or trying.version != version:
        return
    store = CoreStore(core.config.paths.data_dir)
    current = version if store.has(version) else None  # None: the packaged core
    core.states.update(
        self_update=dataclasses.replace(
            saved, current=current, previous=trying.previous, trying=None
        )
    )
    remove_record(core.config.paths.data_dir)
    _log.info("core %s committed (was %s)", version, trying.previous or "the packaged core")
    core.bus.publish("core-updated", {"from": trying.previous, "to": version})
    try:
        CoreStore(core.config.paths.data_dir).prune({version})
    except OSError as exc:
        _log.warning("cannot remove old core versions: %s", exc.strerror or exc)


def reap_guard(pid: int | None) -> None:
    """Wait for the probation guard (our child since the exec) once it saw the commit."""
    if pid is None:
        return
    with contextlib.suppress(OSError):
        os.waitpid(pid, 0)
