"""The node's lifecycle as data: its states, what moves it, and where to.

Everything that decides which state the node is in lives here. The
supervisor reports every request and event as a :class:`Trigger` and asks
:func:`next_state` where that leads; a trigger the table does not allow in
the current state raises :class:`IllegalTransition`, which the supervisor
logs as a bug instead of inventing a state. The tray takes the state names,
their wording and their severity from here too.

Pure: no I/O, no clock, no asyncio, nothing outside the standard library,
so that the tray can import it without pulling in the core.

Rules the table keeps:

* the state names are the contract (docs/contract.md, Status object, ``node.state``);
* a node process exists only in ``starting``, ``running`` and ``stopping``;
* every stop the core makes passes through ``stopping``; once the node is
  gone the supervisor fires what should happen next (``start`` again, stay
  ``stopped`` or ``updating``, ``shutdown``), and a stop made because the
  node was unhealthy or over its memory limit counts as a crash;
* ``crash-looping`` is the wait before a restart while the restart policy
  reports a crash loop; ``backoff`` is that wait otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class NodeState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    BACKOFF = "backoff"
    CRASH_LOOPING = "crash-looping"
    UPDATING = "updating"


class Severity(StrEnum):
    """How much a state needs the operator; the tray's icon follows the worst one."""

    OK = "ok"
    BUSY = "busy"
    ATTENTION = "attention"


@dataclass(frozen=True)
class StateInfo:
    wording: str  # what the state means, in the operator's words
    severity: Severity


STATES: Mapping[NodeState, StateInfo] = MappingProxyType(
    {
        NodeState.STARTING: StateInfo("the node is starting", Severity.OK),
        NodeState.RUNNING: StateInfo("the node is running", Severity.OK),
        NodeState.STOPPING: StateInfo("the node is stopping", Severity.OK),
        NodeState.STOPPED: StateInfo("the node is stopped", Severity.ATTENTION),
        NodeState.BACKOFF: StateInfo("the node exited and will be restarted", Severity.OK),
        NodeState.CRASH_LOOPING: StateInfo("the node keeps crashing", Severity.ATTENTION),
        NodeState.UPDATING: StateInfo("the node is being updated", Severity.BUSY),
    }
)


class Trigger(StrEnum):
    # Requests: what the core, an operator or the update cycle asks for.
    START = "start"  # run the node (at start, after a hold, after a stop)
    RESTART = "restart"  # stop the node gracefully and start it again
    HOLD = "hold"  # stop the node and keep it stopped
    UPDATE = "update"  # the same, while the update cycle switches versions
    SHUTDOWN = "shutdown"  # the core is exiting
    LEFTOVER = "leftover"  # a node left by a previous core must be stopped first
    # Events: what happened to the node.
    HEALTHY = "healthy"  # first good health check of a run
    UNHEALTHY = "unhealthy"  # health_failures failed checks in a row
    OVER_MEMORY = "over-memory"  # above limits.memory_max (watchdog)
    CRASHED = "crashed"  # exited or failed to start on its own: wait, then restart
    CRASH_LOOP = "crash-loop"  # the same, with the restart policy reporting a crash loop
    BACKOFF_OVER = "backoff-over"  # the restart delay has passed


_HELD_OR_GONE = {
    Trigger.START: NodeState.STARTING,
    Trigger.RESTART: NodeState.STARTING,
    Trigger.HOLD: NodeState.STOPPED,
    Trigger.UPDATE: NodeState.UPDATING,
    Trigger.SHUTDOWN: NodeState.STOPPED,
}
_STOP = {
    trigger: NodeState.STOPPING
    for trigger in (
        Trigger.RESTART,
        Trigger.HOLD,
        Trigger.UPDATE,
        Trigger.SHUTDOWN,
        Trigger.UNHEALTHY,
        Trigger.OVER_MEMORY,
    )
}
_EXIT = {Trigger.CRASHED: NodeState.BACKOFF, Trigger.CRASH_LOOP: NodeState.CRASH_LOOPING}
_WAITING = {**_HELD_OR_GONE, Trigger.BACKOFF_OVER: NodeState.STARTING}

TRANSITIONS: Mapping[NodeState, Mapping[Trigger, NodeState]] = MappingProxyType(
    {
        NodeState.STOPPED: {**_HELD_OR_GONE, Trigger.LEFTOVER: NodeState.STOPPING},
        NodeState.UPDATING: _HELD_OR_GONE,
        NodeState.STARTING: {**_STOP, **_EXIT, Trigger.HEALTHY: NodeState.RUNNING},
        NodeState.RUNNING: {**_STOP, **_EXIT},
        # Fired once the node is gone: where the stop was meant to lead.
        NodeState.STOPPING: {**_HELD_OR_GONE, **_EXIT},
        NodeState.BACKOFF: _WAITING,
        NodeState.CRASH_LOOPING: _WAITING,
    }
)

# The states in which the core keeps the node stopped on purpose.
HELD_STATES = frozenset({NodeState.STOPPED, NodeState.UPDATING})


class IllegalTransition(Exception):
    """A trigger the lifecycle does not allow in the current state: a bug in the caller."""


def next_state(state: NodeState, trigger: Trigger) -> NodeState:
    """Where ``trigger`` leads from ``state``; raise :class:`IllegalTransition` if nowhere."""
    try:
        return TRANSITIONS[state][trigger]
    except KeyError:
        raise IllegalTransition(f"{trigger} is not allowed while the node is {state}") from None


@dataclass
class Requests:
    """What has been asked of the supervisor; it acts on it when it next looks."""

    hold_reason: str | None = None  # "update" holds the node as updating
    restart: bool = False
    shutdown: bool = False
    # The operator's maintenance stop: it outlasts any other hold and ends
    # only when the operator starts the node again.
    held_by_operator: bool = False

    def wanted(self) -> Trigger:
        """Where the node should be: START (running), HOLD, UPDATE or SHUTDOWN."""
        if self.shutdown:
            return Trigger.SHUTDOWN
        if self.held_by_operator:
            return Trigger.HOLD
        if self.hold_reason is not None:
            return Trigger.UPDATE if self.hold_reason == "update" else Trigger.HOLD
        return Trigger.START

    def pending(self) -> Trigger | None:
        """The request that changes what a running or waiting node does, if any."""
        wanted = self.wanted()
        if wanted is not Trigger.START:
            return wanted
        return Trigger.RESTART if self.restart else None
