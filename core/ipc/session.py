"""One control connection's conversation, decided without I/O.

The server's asyncio shell (:mod:`nodekeeper.core.ipc.server`) feeds a
:class:`Session` whatever bytes the client sends and carries out the steps
it returns, in order: bytes to send (:class:`Send`), a request to run
through the core's handler (:class:`Call`) or a subscription to start
(:class:`Subscribe`); it hands each outcome back (:meth:`Session.answer`,
:meth:`Session.failure`, :meth:`Session.subscribed`) and gets the bytes to
send. Events go through :meth:`Session.event`, which holds them while a
subscription's snapshot is being taken, up to a bound.

Framing, validation and authorisation are decided here; this module never
touches a socket, a clock, a thread or the log.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from nodekeeper.core.errors import NodekeeperError
from nodekeeper.core.ipc import protocol
from nodekeeper.core.ipc.protocol import Request

FORBIDDEN_MESSAGE = (
    "not allowed; only root, the core's user and members of group nodekeeper may control the core"
)


@dataclass(frozen=True)
class Send:
    """Bytes for the client, as they are."""

    data: bytes


@dataclass(frozen=True)
class Call:
    """Run the method's handler, then send :meth:`Session.answer` (or :meth:`Session.failure`)."""

    request: Request


@dataclass(frozen=True)
class Subscribe:
    """Call :meth:`Session.hold_events`, take the status, then send :meth:`Session.subscribed`."""

    request: Request


Step = Send | Call | Subscribe


def is_bug(exc: BaseException) -> bool:
    """Whether a handler's exception is a bug (``internal``) rather than an operator-facing ``failed``."""
    return not isinstance(exc, NodekeeperError)


class Session:
    """What one client is owed: answers in request order, events once subscribed."""

    def __init__(self, *, can_control: bool, max_held: int) -> None:
        self.can_control = can_control
        self.max_held = max_held
        self.overflowed = False  # too many events held: the shell must disconnect
        self._decoder = protocol.LineDecoder()
        self._subscribed = False
        self._held: list[bytes] | None = None  # events held while a snapshot is taken
        self._held_bytes = 0

    @property
    def is_subscribed(self) -> bool:
        return self._subscribed

    def greeting(self, *, instance: str, core_version: str) -> bytes:
        return protocol.encode(
            protocol.hello(
                instance=instance, core_version=core_version, can_control=self.can_control
            )
        )

    # -- requests ------------------------------------------------------------

    def receive(self, data: bytes) -> list[Step]:
        """The steps owed for ``data`` (any piece of the stream), in order."""
        return [self._step(item) for item in self._decoder.feed(data)]

    def _step(self, item: dict[str, Any] | protocol.LineError) -> Step:
        if isinstance(item, protocol.LineError):
            return Send(_error(None, protocol.BAD_REQUEST, item.message))
        try:
            request = protocol.parse_request(item)
        except protocol.ProtocolError as exc:
            return Send(_error(exc.request_id, exc.code, str(exc)))
        if request.changes_state and not self.can_control:
            return Send(
                _error(request.id, protocol.FORBIDDEN, f"{request.method}: {FORBIDDEN_MESSAGE}")
            )
        if request.spec.streams:
            return Subscribe(request)
        return Call(request)

    def answer(self, request: Request, result: Any) -> bytes:
        """The response carrying a handler's result; raises ProtocolError if it cannot be sent."""
        if request.spec.trims_lines:
            result = fit_lines(request.id, [str(line) for line in result])
        return protocol.encode(protocol.response(request.id, result))

    def failure(self, request: Request, exc: BaseException) -> bytes:
        """The error response for a handler (or :meth:`answer`) that raised ``exc``."""
        if not is_bug(exc):
            return _error(request.id, protocol.FAILED, str(exc))
        return _error(
            request.id,
            protocol.INTERNAL,
            f"{request.method}: internal error ({type(exc).__name__}: {exc}); see the core's log",
        )

    # -- events --------------------------------------------------------------

    def hold_events(self) -> None:
        """A subscription starts: hold events from now on so none falls before the snapshot.

        A client that is subscribed already keeps getting events live.
        """
        if self._held is None and not self._subscribed:
            self._held = []

    def event(self, data: bytes) -> bytes | None:
        """The bytes to send now for an encoded event: ``data``, or None (held or not wanted)."""
        if self._held is not None:
            self._held.append(data)
            self._held_bytes += len(data)
            self.overflowed = self.overflowed or self._held_bytes > self.max_held
            return None
        return data if self._subscribed else None

    def subscribed(self, request: Request, status: Any, time: str) -> list[bytes]:
        """Snapshot, response, then the events held meanwhile.

        Raises ProtocolError if the snapshot cannot be sent.
        """
        snapshot = protocol.encode(protocol.event(protocol.SNAPSHOT_EVENT, time, status))
        held = self._held or []
        self._held, self._held_bytes = None, 0
        self._subscribed = True
        return [
            snapshot,
            protocol.encode(protocol.response(request.id, {"subscribed": True})),
            *held,
        ]

    def subscribe_failed(self, request: Request, exc: BaseException) -> bytes:
        """The error for a snapshot that could not be taken; held events are dropped."""
        self._held, self._held_bytes = None, 0
        code = protocol.INTERNAL if is_bug(exc) else protocol.FAILED
        return _error(request.id, code, f"subscribe: {exc}")


def _error(request_id: int | None, code: str, message: str) -> bytes:
    return protocol.encode(protocol.error(request_id, code, message))


def fit_lines(request_id: int, lines: Iterable[str]) -> list[str]:
    """The newest of ``lines`` whose response fits in one protocol line."""
    budget = protocol.MAX_LINE - len(protocol.encode(protocol.response(request_id, [])))
    kept: list[str] = []
    used = 0
    for line in reversed(list(lines)):
        size = len(json.dumps(line, ensure_ascii=False).encode("utf-8")) + 1  # and a comma
        if used + size > budget:
            break
        kept.append(line)
        used += size
    kept.reverse()
    return kept
