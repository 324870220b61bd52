"""The node's record for the status object: starts, restarts, the last exit.

The supervisor counts every start and exit here and builds the ``node``
part of the status object (docs/contract.md, Status object, and its extensions) from it.
:func:`node_status` is pure: the caller says whether the run still lives
and what time it is.
"""

from __future__ import annotations

from typing import Any

from nodekeeper.core.platform.base import Platform
from nodekeeper.core.supervise.lifecycle import NodeState
from nodekeeper.core.supervise.process import ExitInfo, NodeRun


class RunRecord:
    """What the status shows about past runs: the version, the restarts, the last exit."""

    def __init__(self) -> None:
        self.version: str | None = None
        self.starts = 0
        self.restarts = 0
        self.last_exit: dict[str, Any] | None = None

    def started(self, run: NodeRun) -> None:
        """A run began; every start after the first is a restart."""
        self.version = run.version
        if self.starts:
            self.restarts += 1
        self.starts += 1

    def exited(self, exit_info: ExitInfo, at: str, ran_s: float | None = None) -> None:
        """A run ended (or never began) at the UTC time ``at``."""
        self.last_exit = exit_info.last_exit(at)
        if ran_s is not None:  # extension: how long the run lasted
            self.last_exit["ran_s"] = round(ran_s, 1)


def node_status(
    record: RunRecord,
    state: NodeState,
    run: NodeRun | None,
    *,
    live: bool,
    now: float,
    held_by_operator: bool,
) -> dict[str, Any]:
    """The ``node`` part of the status object (docs/contract.md, Status object)."""
    return {
        "state": str(state),
        "pid": run.pid if run and live else None,
        "version": run.version if run else record.version,
        "uptime_s": round(now - run.started_at, 1) if run and live else 0.0,
        "restarts": record.restarts,
        "healthy": None
        if run and live and run.health_unknown
        else bool(run and live and run.healthy),
        "health": health_word(run if live else None),
        "last_exit": record.last_exit,
        # Extension: the operator's maintenance stop (node.state is then "stopped").
        "stopped_by_operator": held_by_operator,
    }


def health_word(run: NodeRun | None) -> str | None:
    """``node.health`` (an extension of the status): null without a live run."""
    if run is None:
        return None
    if run.health_unknown:
        return "unknown"
    return "healthy" if run.healthy else "unhealthy"


def alive(platform: Platform, run: NodeRun) -> bool:
    """The run's process still lives (status never names a pid that is gone)."""
    if run.exited.done():
        return False
    try:
        return platform.status(run.pid) not in ("gone", "zombie")
    except OSError:  # cannot look (EMFILE): the unreaped process still counts
        return True
