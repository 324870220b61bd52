"""One run of the node: its identity, version, exit and health."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nodekeeper.core.platform.base import ProcessIdentity
from nodekeeper.core.platform.pipes import PipeRecord
from nodekeeper.core.supervise.lifecycle import Trigger

# What ``last_exit.reason`` says about a stop the core made, by its trigger.
STOP_REASONS = {
    Trigger.RESTART: "requested",
    Trigger.HOLD: "hold",
    Trigger.UPDATE: "hold",
    Trigger.SHUTDOWN: "shutdown",
    Trigger.UNHEALTHY: "unhealthy",
    Trigger.OVER_MEMORY: "memory",
}
# The stops that were asked for (not a crash, not a failed update).
REQUESTED_REASONS = frozenset({"requested", "hold", "shutdown"})


@dataclass(frozen=True)
class ExitInfo:
    code: int | None  # exit status, None when killed by a signal or never started
    signal: str | None
    reason: str  # crashed | requested | hold | shutdown | unhealthy | memory | failed-to-start
    message: str | None = None  # why it failed to start

    def last_exit(self, time: str) -> dict[str, Any]:
        """The status object's ``node.last_exit``."""
        record = {"code": self.code, "signal": self.signal, "reason": self.reason, "time": time}
        return record if self.message is None else {**record, "message": self.message}

    def event(self, pid: int | None) -> dict[str, Any]:
        """The data of the ``node-exited`` event."""
        data = {
            "pid": pid,
            "code": self.code,
            "signal": self.signal,
            "reason": self.reason,
            "requested": self.reason in REQUESTED_REASONS,
        }
        return data if self.message is None else {**data, "message": self.message}

    def describe(self) -> str:
        if self.signal:
            return f"killed by {self.signal}"
        if self.code is None:
            return self.reason
        return f"exit code {self.code}"


def exit_info_from_returncode(returncode: int | None, reason: str) -> ExitInfo:
    """``returncode`` None: a node taken over from a previous core, whose status nobody
    can tell any more."""
    if returncode is None:
        return ExitInfo(None, None, reason)
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return ExitInfo(None, name, reason)
    return ExitInfo(returncode, None, reason)


@dataclass
class NodeRun:
    """A started node process; ``exited`` resolves with its return code."""

    ident: ProcessIdentity
    version: str | None
    started_at: float  # on the supervisor's clock
    exited: asyncio.Future[int | None]
    healthy: bool = False
    # health_url never answered since the start, beyond node.health_grace.
    health_unknown: bool = False
    # Answered healthy at least once: a reload's new health watch starts from here.
    ever_healthy: bool = False
    # Where a later core finds the node's output pipes again (empty: it cannot).
    pipes: tuple[PipeRecord, ...] = ()
    # Taken over from a previous core rather than started by this one.
    adopted: bool = False
    # Lets a node started behind a start barrier run, once its pid is on record.
    go: Callable[[], None] = lambda: None

    @property
    def pid(self) -> int:
        return self.ident.pid
