"""The requests the supervisor takes, and the signals between them and its loop.

:class:`SupervisorRequests` is the request half of the supervisor: each
request (:meth:`~SupervisorRequests.restart`, ``hold``, ``release``, the
operator's stop and start, ``shutdown``) only records what is wanted in
:class:`~nodekeeper.core.supervise.lifecycle.Requests` and wakes the loop,
which alone moves the node from state to state. Requests that must wait for
their effect wait for a change signal the loop gives after every change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from nodekeeper.core.supervise.clock import Clock, wait_for
from nodekeeper.core.supervise.lifecycle import NodeState, Requests, next_state
from nodekeeper.core.supervise.process import NodeRun


class SupervisorRequests:
    """Requests and signals; the supervisor sets the state, the run and the clock."""

    _state: NodeState
    _run: NodeRun | None
    _clock: Clock

    def __init__(self, *, held_by_operator: bool, on_change: Callable[[], None]) -> None:
        self._requests = Requests(held_by_operator=held_by_operator)
        self._on_change = on_change
        self._looping = False  # run() is in its loop
        self._wake = asyncio.Event()  # set with every request
        self._changed = asyncio.Event()

    async def restart(self) -> None:
        """Gracefully restart the node now (not counted as a crash); ends a hold."""
        self._requests.hold_reason = None
        self._requests.restart = True
        self._wake.set()

    async def hold(self, reason: str) -> None:
        """Stop the node gracefully and keep it stopped until :meth:`release`.

        ``reason`` "update" shows the node as ``updating``, any other as ``stopped``.
        """
        self._requests.hold_reason = reason
        self._wake.set()
        held = next_state(NodeState.STOPPED, self._requests.wanted())
        await self._until(lambda: self._over() or (self._run is None and self._state is held))

    async def release(self) -> None:
        """End a hold: the node starts again."""
        self._requests.hold_reason = None
        self._wake.set()

    async def stop_by_operator(self) -> None:
        """Stop the node for maintenance; it stays stopped, whatever else asks, until
        :meth:`start_by_operator`."""
        self._requests.held_by_operator = True
        self._wake.set()
        await self._until(
            lambda: self._over() or (self._run is None and self._state is NodeState.STOPPED)
        )

    async def start_by_operator(self) -> None:
        """End the operator's maintenance stop: the node starts unless an update still holds it."""
        self._requests.held_by_operator = False
        self._wake.set()

    @property
    def held_by_operator(self) -> bool:
        return self._requests.held_by_operator

    async def wait_until_healthy(self, timeout: float) -> bool:
        """True once the node runs and answers its health checks; False after ``timeout``."""
        try:
            await wait_for(self._clock, self._until(self._healthy), timeout)
        except TimeoutError:
            return False
        return self._healthy()

    async def shutdown(self) -> None:
        """Stop the node gracefully and end the supervisor's loop."""
        self._requests.shutdown = True
        self._wake.set()
        await self._until(self._over)

    # -- signals --------------------------------------------------------------

    def _healthy(self) -> bool:
        return self._state is NodeState.RUNNING and self._run is not None and self._run.healthy

    def _changed_now(self) -> None:
        # Waiters hold the old event: setting it wakes them all at once.
        self._changed.set()
        self._changed = asyncio.Event()
        self._on_change()

    async def _until(self, condition: Callable[[], bool]) -> None:
        while not condition():
            await self._changed.wait()

    async def _next_wake(self) -> None:
        await self._wake.wait()
        self._wake.clear()

    def _over(self) -> bool:
        """True when the loop has returned or is about to."""
        shut_down = self._requests.shutdown and self._state is NodeState.STOPPED
        return shut_down or not self._looping
