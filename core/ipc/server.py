"""The core's control socket server (docs/contract.md, Control socket), on the core's event loop.

One Unix stream socket (a named pipe on Windows); each connection is
greeted with ``hello``, told whether it may control the core (from its
peer credentials, decided once per connection), and then answered request
by request. What each connection is owed is decided by
:class:`~nodekeeper.core.ipc.session.Session` (framing, validation,
authorisation, subscriptions); the methods and their handlers come from
the table in :mod:`nodekeeper.core.ipc.methods`. This module only moves
bytes and runs handlers.

What a client sends or fails to read must never hurt the core:

* bad lines get a ``bad_request`` answer and the connection goes on;
* a handler that fails answers ``failed`` (an operator-facing error) or
  ``internal`` (a bug, logged with its traceback) and the connection goes on;
* everything sent to a client goes through its transport buffer, bounded by
  ``max_buffered`` bytes: a client that does not read is disconnected, it
  never stalls the loop, the bus or other clients;
* connections are capped in total and per user, with places kept for
  trusted clients, and quiet ones are dropped (the rules are in
  :mod:`nodekeeper.core.ipc.admission`).

Events come from the :class:`EventBus` in any thread; they are handed to
the loop with ``call_soon_threadsafe``, encoded once and written to every
subscriber in publish order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from nodekeeper.core.errors import OperationFailed
from nodekeeper.core.events import Event, EventBus, utc_now_iso
from nodekeeper.core.ipc import protocol
from nodekeeper.core.ipc.admission import Admission, Limits, Refused, time_left
from nodekeeper.core.ipc.methods import METHODS
from nodekeeper.core.ipc.peercred import AccessPolicy, PeerCredentials, peer_credentials
from nodekeeper.core.ipc.session import Call, Send, Session, Step, is_bug
from nodekeeper.core.ipc.unix_listener import UnixListener
from nodekeeper.core.paths import WINDOWS_PIPE_PREFIX
from nodekeeper.core.platform.winpipe import PipeApi, PipeListener, ctypes_pipe_api

_log = logging.getLogger(__name__)

MAX_BUFFERED = 1024 * 1024
READ_CHUNK = 64 * 1024

# What the core does for one method: called with the request's checked
# parameters as keyword arguments (core/control.py registers them).
Handler = Callable[..., Awaitable[Any]]


def bind_handlers(handlers: Mapping[str, Handler] | object) -> dict[str, Handler]:
    """A handler for every method of the table that the core answers.

    ``handlers`` maps method names to handlers, or is an object with a
    coroutine method per method name. A missing one is a bug, caught here
    at start rather than by a client's request.
    """
    bound: dict[str, Handler] = {}
    for method in METHODS.values():
        if method.streams:
            continue
        if isinstance(handlers, Mapping):
            handler = handlers.get(method.name)
        else:
            handler = getattr(handlers, method.name, None)
        if not callable(handler):
            raise TypeError(f"no handler for control method {method.name!r}")
        bound[method.name] = handler
    return bound


class Transport(Protocol):
    """Where one client's bytes go: an asyncio transport, or an in-memory one in tests."""

    def write(self, data: bytes) -> None: ...

    def get_write_buffer_size(self) -> int: ...

    def is_closing(self) -> bool: ...

    def abort(self) -> None: ...

    def get_extra_info(self, name: str, default: Any = None) -> Any: ...


class _Connection:
    """One client: its session and its transport, written to within the bound."""

    def __init__(self, session: Session, transport: Transport, max_buffered: int) -> None:
        self.session = session
        self.transport = transport
        self.max_buffered = max_buffered
        self.closed = False

    def send(self, data: bytes) -> None:
        if self.closed:
            return
        if self.transport.is_closing():
            self.closed = True
            return
        self.transport.write(data)
        if self.transport.get_write_buffer_size() > self.max_buffered:
            _log.warning("control client does not read its messages; disconnecting it")
            self.abort()

    def deliver(self, data: bytes) -> None:
        if self.closed:
            return
        now = self.session.event(data)
        if self.session.overflowed:
            _log.warning(
                "control client's events pile up during its subscription; disconnecting it"
            )
            self.abort()
        elif now is not None:
            self.send(now)

    def abort(self) -> None:
        self.closed = True
        self.transport.abort()


class ControlServer:
    """Serves one core's control socket (Unix) or named pipe (Windows) on the running loop."""

    def __init__(
        self,
        path: str,
        handlers: Mapping[str, Handler] | object,
        bus: EventBus,
        *,
        instance: str,
        core_version: str,
        policy: AccessPolicy | None = None,
        max_buffered: int = MAX_BUFFERED,
        pipe_api: PipeApi | None = None,
        clock: Callable[[], str] = utc_now_iso,
        limits: Limits | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.handlers = bind_handlers(handlers)
        self.bus = bus
        self.instance = instance
        self.core_version = core_version
        self.policy = policy or AccessPolicy()
        self.max_buffered = max_buffered
        self.clock = clock
        self.limits = limits or Limits()
        self.admission = Admission(self.limits)
        self.monotonic = monotonic
        self._unix: UnixListener | None = None
        self._connections: set[_Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._unsubscribe: Callable[[], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pipe_api = pipe_api
        self._pipe: PipeListener | None = None

    @property
    def client_count(self) -> int:
        return len(self._connections)

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        """Listen (replacing a stale socket file), then follow the event bus."""
        self._loop = asyncio.get_running_loop()
        if self.path.startswith(WINDOWS_PIPE_PREFIX):
            await self._start_pipe()
            return
        listener = UnixListener(self.path, self.policy.control_gid, self.limits)
        await listener.start(self._serve_client)
        self._unix = listener
        self._unsubscribe = self.bus.subscribe(self._on_event)
        _log.info("control socket listening on %s", self.path)

    async def _start_pipe(self) -> None:
        assert self._loop is not None
        try:
            api = self._pipe_api or ctypes_pipe_api()
            listener = PipeListener(self.path, api, self._serve_client)
            listener.start(self._loop)
        except OSError as exc:
            raise OperationFailed(f"cannot listen on {self.path}: {exc}") from None
        self._pipe = listener
        self._unsubscribe = self.bus.subscribe(self._on_event)
        _log.info("control pipe listening on %s", self.path)

    async def close(self) -> None:
        if self._pipe is not None:
            pipe, self._pipe = self._pipe, None
            await asyncio.get_running_loop().run_in_executor(None, pipe.close)
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._unix is not None:
            self._unix.stop_accepting()
        for connection in list(self._connections):
            connection.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._unix is not None:
            await self._unix.wait_closed()
            self._unix = None

    # -- events ------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        """Bus subscriber: called in the publisher's thread, must not block."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # loop closed between the check and the call
            loop.call_soon_threadsafe(self.broadcast, event)

    def broadcast(self, event: Event) -> None:
        """Send ``event`` to every subscriber; call it on the loop."""
        try:
            data = protocol.encode(event.to_json())
        except protocol.ProtocolError as exc:
            _log.error("event %s cannot be sent to clients: %s", event.kind, exc)
            return
        for connection in list(self._connections):
            connection.deliver(data)

    # -- connections -------------------------------------------------------

    async def _serve_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await self.serve_connection(reader, writer.transport)

    async def serve_connection(self, reader: asyncio.StreamReader, transport: Transport) -> None:
        """Serve one connected client until it leaves or is dropped.

        ``reader`` gives what the client sends, ``transport`` takes what it
        is sent; tests drive this in-process with in-memory ones.
        """
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        admitted = False
        uid: int | None = None
        try:
            uid, can_control, refused = await self._admit(transport)
            if refused is not None:
                if refused.report:
                    _log.warning("refusing control connections: %s", refused.reason)
                transport.abort()
                return
            admitted = True
            await self._converse(reader, transport, can_control)
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            if admitted:
                self.admission.release(uid)
            if task is not None:
                self._tasks.discard(task)

    async def _admit(self, transport: Transport) -> tuple[int | None, bool, Refused | None]:
        """The peer's uid, whether it may control, and why it gets no place (None: it does)."""
        uid, can_control, peer = self._who(transport)
        if peer is not None:
            # Its place is held while the (possibly slow) group lookup runs.
            early = self.admission.begin(peer.uid, now=self.monotonic())
            if early is not None:
                return uid, False, early
            try:
                # User and group databases may be remote (LDAP, NIS): never block the loop on them.
                loop = asyncio.get_running_loop()
                can_control = await loop.run_in_executor(None, self.policy.can_control, peer)
            except BaseException:
                self.admission.abandon(peer.uid)
                raise
        refused = self.admission.admit(uid, trusted=can_control, now=self.monotonic())
        return uid, can_control, refused

    async def _converse(
        self, reader: asyncio.StreamReader, transport: Transport, can_control: bool
    ) -> None:
        session = Session(can_control=can_control, max_held=self.max_buffered)
        connection = _Connection(session, transport, self.max_buffered)
        self._connections.add(connection)
        since, asked = self.monotonic(), False
        try:
            connection.send(
                session.greeting(instance=self.instance, core_version=self.core_version)
            )
            while not connection.closed:
                left = time_left(
                    self.limits,
                    now=self.monotonic(),
                    since=since,
                    asked=asked,
                    subscribed=session.is_subscribed,
                )
                try:
                    data = await asyncio.wait_for(reader.read(READ_CHUNK), left)
                except TimeoutError:
                    _log.info("dropping a control connection that stayed quiet too long")
                    break
                if not data:
                    break
                steps = session.receive(data)
                for step in steps:
                    if connection.closed:
                        break
                    await self._perform(connection, step)
                if steps:
                    since, asked = self.monotonic(), True
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        except Exception:
            _log.exception("control connection failed")
        finally:
            self._connections.discard(connection)
            connection.abort()

    def _who(self, transport: Transport) -> tuple[int | None, bool, PeerCredentials | None]:
        """The peer's uid (None when unknown), whether it may control, and the
        credentials still to look up in the group database (None: decided already)."""
        granted = transport.get_extra_info("peer_can_control")
        if granted is not None:  # a Windows pipe client, judged from its token
            return None, bool(granted), None
        sock = transport.get_extra_info("socket")
        if sock is None:
            return None, False, None
        try:
            peer = peer_credentials(sock)
        except OSError as exc:
            _log.warning("cannot tell who connected (%s); read-only", exc)
            return None, False, None
        if peer.uid in (0, self.policy.core_uid):
            return peer.uid, True, None
        return peer.uid, False, peer

    async def _perform(self, connection: _Connection, step: Step) -> None:
        session = connection.session
        if isinstance(step, Send):
            connection.send(step.data)
            return
        request = step.request
        if isinstance(step, Call):
            try:
                result = await self.handlers[request.method](**request.params)
                reply = session.answer(request, result)
            except Exception as exc:
                if is_bug(exc):
                    _log.exception("control method %s failed", request.method)
                reply = session.failure(request, exc)
            connection.send(reply)
            return
        # Hold events before taking the snapshot so that none falls in between.
        session.hold_events()
        try:
            replies = session.subscribed(request, await self.handlers["status"](), self.clock())
        except Exception as exc:
            if is_bug(exc):
                _log.exception("status snapshot for a subscriber failed")
            replies = [session.subscribe_failed(request, exc)]
        for data in replies:
            connection.send(data)
