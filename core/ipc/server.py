"""The core's control socket server (DESIGN.md §8), on the core's event loop.

One Unix stream socket; each connection is greeted with ``hello``, told
whether it may control the core (from its peer credentials, decided once
per connection), and then answered request by request. Framing and
validation are :mod:`nodekeeper.core.ipc.protocol`'s; this module only moves bytes.

What a client sends or fails to read must never hurt the core:

* bad lines get a ``bad_request`` answer and the connection goes on;
* a handler that fails answers ``failed`` (an operator-facing error) or
  ``internal`` (a bug, logged with its traceback) and the connection goes on;
* everything sent to a client goes through its transport buffer, bounded by
  ``max_buffered`` bytes: a client that does not read is disconnected, it
  never stalls the loop, the bus or other clients.

Events come from the :class:`EventBus` in any thread; they are handed to
the loop with ``call_soon_threadsafe``, encoded once and written to every
subscriber in publish order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import stat
from collections.abc import Callable
from typing import Any, Protocol

from nodekeeper.core.errors import NodekeeperError, OperationFailed
from nodekeeper.core.events import Event, EventBus, utc_now_iso
from nodekeeper.core.ipc import protocol
from nodekeeper.core.ipc.peercred import AccessPolicy, peer_credentials
from nodekeeper.core.paths import WINDOWS_PIPE_PREFIX
from nodekeeper.core.platform.winpipe import PipeApi, PipeListener, ctypes_pipe_api

_log = logging.getLogger(__name__)

SOCKET_MODE = 0o660
MAX_BUFFERED = 1024 * 1024
READ_CHUNK = 64 * 1024
STALE_PROBE_TIMEOUT = 1.0
# Connection storms queue here instead of being refused (the kernel caps it at somaxconn).
BACKLOG = 1024


class ControlHandlers(Protocol):
    """What the core does for the socket's methods (implemented in core/service.py)."""

    async def status(self) -> dict[str, Any]: ...

    async def set_updates(self, enabled: bool) -> dict[str, Any]: ...

    async def check_now(self) -> dict[str, Any]: ...

    async def restart_node(self) -> dict[str, Any]: ...

    async def logs_tail(self, lines: int) -> list[str]: ...


class _Client:
    """One connection: its writer, its rights and whether it wants events."""

    def __init__(self, writer: asyncio.StreamWriter, can_control: bool, max_buffered: int) -> None:
        self.writer = writer
        self.can_control = can_control
        self.max_buffered = max_buffered
        self.closed = False
        # None: not subscribed; a list: events held while the snapshot is taken; True: live.
        self.subscription: list[bytes] | bool | None = None
        self.held_bytes = 0

    def send(self, data: bytes) -> None:
        if self.closed:
            return
        transport = self.writer.transport
        if transport.is_closing():
            self.closed = True
            return
        transport.write(data)
        if transport.get_write_buffer_size() > self.max_buffered:
            _log.warning("control client does not read its messages; disconnecting it")
            self.abort()

    def send_message(self, message: dict[str, Any]) -> None:
        self.send(protocol.encode(message))

    def deliver(self, data: bytes) -> None:
        if isinstance(self.subscription, list):
            self.subscription.append(data)
            self.held_bytes += len(data)
            if self.held_bytes > self.max_buffered:
                self.abort()
        elif self.subscription is True:
            self.send(data)

    def abort(self) -> None:
        self.closed = True
        self.writer.transport.abort()


class ControlServer:
    """Serves one core's control socket (Unix) or named pipe (Windows) on the running loop."""

    def __init__(
        self,
        path: str,
        handlers: ControlHandlers,
        bus: EventBus,
        *,
        instance: str,
        core_version: str,
        policy: AccessPolicy | None = None,
        max_buffered: int = MAX_BUFFERED,
        pipe_api: PipeApi | None = None,
    ) -> None:
        self.path = path
        self.handlers = handlers
        self.bus = bus
        self.instance = instance
        self.core_version = core_version
        self.policy = policy or AccessPolicy()
        self.max_buffered = max_buffered
        self._server: asyncio.base_events.Server | None = None
        self._clients: set[_Client] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._unsubscribe: Callable[[], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inode: tuple[int, int] | None = None
        self._pipe_api = pipe_api
        self._pipe: PipeListener | None = None

    @property
    def client_count(self) -> int:
        return len(self._clients)

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        """Bind the socket (replacing a stale one), set its mode and group, start serving."""
        self._loop = asyncio.get_running_loop()
        if self.path.startswith(WINDOWS_PIPE_PREFIX):
            await self._start_pipe()
            return
        await self._remove_stale_socket()
        directory = os.path.dirname(self.path) or "."
        try:
            os.makedirs(directory, mode=0o755, exist_ok=True)
            self._server = await asyncio.start_unix_server(
                self._serve_client, path=self.path, limit=protocol.MAX_LINE + 1, backlog=BACKLOG
            )
            info = os.stat(self.path)
            self._inode = (info.st_dev, info.st_ino)
            # Bound with the process umask (022 by default: nobody else may connect
            # yet), then opened up to exactly 0660 and the control group.
            os.chmod(self.path, SOCKET_MODE)
            gid = self.policy.control_gid()
            if gid is not None:
                try:
                    os.chown(self.path, -1, gid)
                except PermissionError:
                    _log.warning("cannot give %s to group nodekeeper (not allowed)", self.path)
        except OSError as exc:
            await self.close()
            raise OperationFailed(f"cannot listen on {self.path}: {exc.strerror or exc}") from None
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
        if self._server is not None:
            self._server.close()
        for client in list(self._clients):
            client.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None
        self._remove_own_socket()

    async def _remove_stale_socket(self) -> None:
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise OperationFailed(f"cannot listen on {self.path}: {exc.strerror or exc}") from None
        if not stat.S_ISSOCK(info.st_mode):
            raise OperationFailed(
                f"{self.path} exists and is not a socket; remove it or set paths.socket elsewhere"
            )
        if await _answers(self.path):
            raise OperationFailed(
                f"another core is already listening on {self.path}; stop it or set paths.socket elsewhere"
            )
        _log.info("removing stale socket %s", self.path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def _remove_own_socket(self) -> None:
        if self._inode is None:
            return
        try:
            info = os.lstat(self.path)
            if (info.st_dev, info.st_ino) == self._inode:
                os.unlink(self.path)
        except OSError:
            pass
        self._inode = None

    # -- events ------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        """Bus subscriber: called in the publisher's thread, must not block."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # loop closed between the check and the call
            loop.call_soon_threadsafe(self._fan_out, event)

    def _fan_out(self, event: Event) -> None:
        try:
            data = protocol.encode(event.to_json())
        except protocol.ProtocolError as exc:
            _log.error("event %s cannot be sent to clients: %s", event.kind, exc)
            return
        for client in list(self._clients):
            client.deliver(data)

    # -- connections -------------------------------------------------------

    async def _serve_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        client = _Client(writer, await self._can_control(writer), self.max_buffered)
        self._clients.add(client)
        try:
            client.send_message(
                protocol.hello(
                    instance=self.instance,
                    core_version=self.core_version,
                    can_control=client.can_control,
                )
            )
            decoder = protocol.LineDecoder()
            while not client.closed:
                data = await reader.read(READ_CHUNK)
                if not data:
                    break
                for item in decoder.feed(data):
                    if client.closed:
                        break
                    await self._handle_line(client, item)
        except (ConnectionError, OSError):
            pass
        except asyncio.CancelledError:
            pass
        except Exception:
            _log.exception("control connection failed")
        finally:
            self._clients.discard(client)
            client.closed = True
            writer.transport.abort()
            if task is not None:
                self._tasks.discard(task)

    async def _can_control(self, writer: asyncio.StreamWriter) -> bool:
        granted = writer.get_extra_info("peer_can_control")
        if granted is not None:  # a Windows pipe client, judged from its token
            return bool(granted)
        sock = writer.get_extra_info("socket")
        if sock is None:
            return False
        try:
            peer = peer_credentials(sock)
        except OSError as exc:
            _log.warning("cannot tell who connected (%s); read-only", exc)
            return False
        if peer.uid in (0, self.policy.core_uid):
            return True
        # User and group databases may be remote (LDAP, NIS): never block the loop on them.
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self.policy.can_control, peer)

    async def _handle_line(
        self, client: _Client, item: dict[str, Any] | protocol.LineError
    ) -> None:
        if isinstance(item, protocol.LineError):
            client.send_message(protocol.error(None, protocol.BAD_REQUEST, item.message))
            return
        try:
            request = protocol.parse_request(item)
        except protocol.ProtocolError as exc:
            client.send_message(protocol.error(exc.request_id, exc.code, str(exc)))
            return
        if request.changes_state and not client.can_control:
            client.send_message(
                protocol.error(
                    request.id,
                    protocol.FORBIDDEN,
                    f"{request.method}: not allowed; only root, the core's user and members of "
                    "group nodekeeper may control the core",
                )
            )
            return
        if request.method == "subscribe":
            await self._subscribe(client, request.id)
            return
        try:
            result = await self._call(request)
            reply = protocol.encode(protocol.response(request.id, result))
        except NodekeeperError as exc:
            reply = protocol.encode(protocol.error(request.id, protocol.FAILED, str(exc)))
        except Exception as exc:
            _log.exception("control method %s failed", request.method)
            reply = protocol.encode(
                protocol.error(
                    request.id,
                    protocol.INTERNAL,
                    f"{request.method}: internal error ({type(exc).__name__}: {exc}); see the core's log",
                )
            )
        client.send(reply)

    async def _call(self, request: protocol.Request) -> Any:
        handlers = self.handlers
        method = request.method
        if method == "status":
            return await handlers.status()
        if method == "set_updates":
            return await handlers.set_updates(bool(request.params["enabled"]))
        if method == "check_now":
            return await handlers.check_now()
        if method == "restart_node":
            return await handlers.restart_node()
        if method == "logs_tail":
            lines = await handlers.logs_tail(int(request.params["lines"]))
            return fit_lines(request.id, [str(line) for line in lines])
        raise protocol.ProtocolError(f"unknown method {method!r}", protocol.UNKNOWN_METHOD)

    async def _subscribe(self, client: _Client, request_id: int) -> None:
        # Register before taking the snapshot so no event falls in between;
        # events held meanwhile may already be reflected in the snapshot.
        if client.subscription is None:
            client.subscription = []
        try:
            status = await self.handlers.status()
            snapshot = protocol.encode(
                protocol.event(protocol.SNAPSHOT_EVENT, utc_now_iso(), status)
            )
        except Exception as exc:
            if isinstance(client.subscription, list):
                client.subscription = None
            code = protocol.FAILED if isinstance(exc, NodekeeperError) else protocol.INTERNAL
            if code == protocol.INTERNAL:
                _log.exception("status snapshot for a subscriber failed")
            client.send_message(protocol.error(request_id, code, f"subscribe: {exc}"))
            return
        held = client.subscription if isinstance(client.subscription, list) else []
        client.subscription = True
        client.send(snapshot)
        client.send_message(protocol.response(request_id, {"subscribed": True}))
        for data in held:
            client.send(data)


def fit_lines(request_id: int, lines: list[str]) -> list[str]:
    """The newest of ``lines`` whose response fits in one protocol line."""
    budget = protocol.MAX_LINE - len(protocol.encode(protocol.response(request_id, [])))
    kept: list[str] = []
    used = 0
    for line in reversed(lines):
        size = len(json.dumps(line, ensure_ascii=False).encode("utf-8")) + 1  # and a comma
        if used + size > budget:
            break
        kept.append(line)
        used += size
    kept.reverse()
    return kept


async def _answers(path: str) -> bool:
    """Whether something accepts connections on the Unix socket ``path``."""
    try:
        _reader, writer = await asyncio.wait_for(
            asyncio.open_unix_connection(path), STALE_PROBE_TIMEOUT
        )
    except (OSError, TimeoutError):
        return False
    writer.transport.abort()
    return True
