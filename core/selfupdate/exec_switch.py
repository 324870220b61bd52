"""The last step of a switch, after ``serve`` ended without stopping the node.

Writes the hand-over record, starts the probation guard, and exec's the new
core. If the exec itself fails the core exits 1: the service manager starts
the packaged core again, whose launcher step counts the interrupted switch
and takes the node over (core/selfupdate/launcher.py).
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Sequence
from typing import TYPE_CHECKING

from nodekeeper.core.events import utc_now_iso
from nodekeeper.core.platform.base import DataDirLock
from nodekeeper.core.selfexec import GUARD_MODULE, module_command
from nodekeeper.core.selfupdate.handover import (
    HANDOVER_ENV,
    HandoverRecord,
    exec_core,
    write_record,
)
from nodekeeper.core.version import running_version

if TYPE_CHECKING:
    from nodekeeper.core.running import Core
    from nodekeeper.core.selfupdate.switch import Handover

_log = logging.getLogger("nodekeeper.core.selfupdate")

# The guard waits this much beyond [self_update] probation: the new core's own
# deadline comes first, the guard only ends a core that cannot even do that.
GUARD_MARGIN = 15.0
EXIT_SWITCH_FAILED = 1


def hand_over(
    core: Core, handover: Handover, locks: Sequence[DataDirLock], args: Sequence[str]
) -> int:
    """Exec the new core; the exit code for the service manager if that fails."""
    data_dir = core.config.paths.data_dir
    guard = _start_guard(core, handover.version)
    record = HandoverRecord(
        os.getpid(),
        running_version(),
        handover.version,
        core.held_partials,
        utc_now_iso(),
        guard_pid=guard,
    )
    try:
        path = write_record(data_dir, record)
    except OSError as exc:
        _log.error("cannot write the hand-over record: %s", exc.strerror or exc)
        return EXIT_SWITCH_FAILED
    _log.info("exec'ing core %s: %s", handover.version, " ".join(handover.command))
    try:
        exec_core(
            handover.command,
            args,
            locks=locks,
            env={HANDOVER_ENV: str(path)},
        )
    except OSError as exc:
        _log.error(
            "cannot exec core %s (%s): %s; exiting so that the service manager starts the "
            "previous core, which takes the node over",
            handover.version,
            " ".join(handover.command),
            exc.strerror or exc,
        )
    return EXIT_SWITCH_FAILED


def leave_record(core: Core) -> None:
    """A core that ends without stopping the node (failed probation): the partial lines its
    readers held go to whichever core takes the node over next."""
    version = running_version()
    record = HandoverRecord(os.getpid(), version, version, core.held_partials, utc_now_iso())
    try:
        write_record(core.config.paths.data_dir, record)
    except OSError as exc:
        _log.warning("cannot write the hand-over record: %s", exc.strerror or exc)


def _start_guard(core: Core, version: str) -> int | None:
    import psutil

    within = core.config.self_update.probation + GUARD_MARGIN
    command = [
        *module_command(GUARD_MODULE),
        "--pid",
        str(os.getpid()),
        "--create-time",
        repr(psutil.Process().create_time()),
        "--state-file",
        str(core.config.paths.data_dir / "state.json"),
        "--version",
        version,
        "--within",
        repr(within),
    ]
    try:
        guard = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as exc:  # the new core still has its own deadline
        _log.warning("cannot start the probation guard: %s", exc.strerror or exc)
        return None
    return guard.pid
