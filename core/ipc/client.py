"""Blocking client of the control socket, shared by the CLI and scripts.

``Client(path)`` connects, reads the ``hello`` and offers :meth:`Client.call`
(one request, one answer) and :meth:`Client.subscribe` (the status snapshot,
then every event). Whatever the core sends is validated by
:mod:`nodekeeper.core.ipc.protocol`; problems become one-line :class:`NodekeeperError`
subclasses, never tracebacks: :class:`~nodekeeper.core.errors.CoreUnreachable` when
there is no core to talk to, :class:`RequestFailed` when the core said no.
"""

from __future__ import annotations

import collections
import socket
import sys
import time
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Any

from nodekeeper.core.errors import CoreUnreachable, OperationFailed
from nodekeeper.core.ipc import protocol
from nodekeeper.core.ipc.methods import METHODS, SLOW_ANSWER_TIMEOUT
from nodekeeper.core.paths import WINDOWS_PIPE_PREFIX

DEFAULT_TIMEOUT = 30.0
START_HINT = "start it with 'nodekeeper run --config FILE' or through the service manager"
if sys.platform == "win32":
    # The pipe admits interactive users, SYSTEM and Administrators (winpipe.pipe_sddl).
    _ACCESS_HINT = "log in interactively or run as an administrator"
else:
    _ACCESS_HINT = "ask to be added to group nodekeeper or use sudo"


class RequestFailed(OperationFailed):
    """The core answered a request with an error."""

    def __init__(self, method: str, code: str, message: str) -> None:
        super().__init__(message if message.startswith(method) else f"{method}: {message}")
        self.method = method
        self.code = code


class _Stream:
    """Bytes to and from the core: a Unix socket, or a named pipe on Windows."""

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self._sock: socket.socket | None = None
        self._pipe: Any = None
        if sys.platform == "win32":
            self._pipe = _open_trusted_pipe(path)
            return
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            _connect_unix(sock, path, timeout)
        except BaseException:
            sock.close()
            raise
        self._sock = sock

    def settimeout(self, timeout: float | None) -> None:
        if self._sock is not None:
            self._sock.settimeout(timeout)

    def send(self, data: bytes) -> None:
        if self._sock is not None:
            self._sock.sendall(data)
        else:
            self._pipe.write(data)

    def recv(self) -> bytes:
        if self._sock is not None:
            return self._sock.recv(65536)
        data: bytes = (
            self._pipe.read1(65536) if hasattr(self._pipe, "read1") else self._pipe.read(1)
        )
        return data

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        elif self._pipe is not None:
            self._pipe.close()


def _open_trusted_pipe(path: str) -> Any:
    """Open the core's named pipe, and keep it only if a trusted process serves it."""
    if sys.platform == "win32":
        import msvcrt

        from nodekeeper.core.platform.winpipe_owner import check_pipe_server, ctypes_pipe_owner_api

        if not path.startswith(WINDOWS_PIPE_PREFIX):
            raise CoreUnreachable(
                f"{path} is not a pipe name; on Windows a core listens on "
                f"{WINDOWS_PIPE_PREFIX}nodekeeper-INSTANCE"
            )
        pipe = open(path, "r+b", buffering=0)
        try:
            check_pipe_server(path, msvcrt.get_osfhandle(pipe.fileno()), ctypes_pipe_owner_api())
        except BaseException:
            pipe.close()
            raise
        return pipe
    raise OSError("named pipes need Windows")


def _connect_unix(sock: socket.socket, path: str, timeout: float) -> None:
    """Connect, waiting while the core's accept backlog is full (EAGAIN on Unix sockets)."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            sock.connect(path)
            return
        except BlockingIOError:
            if time.monotonic() + delay > deadline:
                raise TimeoutError("the core's connection backlog stayed full") from None
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


class Client:
    """One connection to a core's control socket."""

    def __init__(self, path: str, *, timeout: float | None = None) -> None:
        """Connect and read the hello.

        ``timeout`` is in seconds, for connecting and for each answer; by
        default 30 s, and SLOW_ANSWER_TIMEOUT for methods that go to the
        network (``check_now``).
        """
        self.path = path
        self._default_timeout = timeout is None
        self.timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        self._decoder = protocol.LineDecoder()
        self._inbox: collections.deque[dict[str, Any]] = collections.deque()
        self._events: collections.deque[dict[str, Any]] = collections.deque()
        self._next_id = 1
        try:
            self._stream = _Stream(path, self.timeout)
        except (FileNotFoundError, ConnectionRefusedError):
            raise CoreUnreachable(f"no core is running on {path}; {START_HINT}") from None
        except PermissionError:
            raise CoreUnreachable(f"not allowed to connect to {path}; {_ACCESS_HINT}") from None
        except TimeoutError:
            raise CoreUnreachable(
                f"the core on {path} does not accept connections (timed out)"
            ) from None
        except OSError as exc:
            raise CoreUnreachable(
                f"cannot connect to {path}: {exc.strerror or exc}; {START_HINT}"
            ) from None
        try:
            hello = self._next_message(time.monotonic() + self.timeout, "hello")
            self.hello = protocol.parse_hello(hello)
        except protocol.ProtocolError as exc:
            self.close()
            raise CoreUnreachable(f"{path}: {exc}") from None
        except CoreUnreachable:
            self.close()
            raise
        except OperationFailed as exc:  # no hello in time, or not our protocol at all
            self.close()
            raise CoreUnreachable(f"{exc} (is a nodekeeper core listening there?)") from None
        except BaseException:
            self.close()
            raise
        self.can_control: bool = self.hello["can_control"]
        self.instance: str = self.hello["instance"]
        self.core_version: str = self.hello["core_version"]

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._stream.close()

    # -- requests ----------------------------------------------------------

    def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        """Send one request and return its result; raise :class:`RequestFailed` if the core refused."""
        request_id = self._send_request(method, params)
        return self._await_response(request_id, method)

    def subscribe(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """Yield ``(event, time, data)``: first ``("status", time, status)``, then every event.

        Blocks while waiting for events (no timeout); ends when the core closes the connection.
        """
        request_id = self._send_request("subscribe", None)
        self._events.clear()  # events from before the snapshot are in it
        self._await_response(request_id, "subscribe")
        self._stream.settimeout(None)
        while True:
            next_message: dict[str, Any] | None = (
                self._events.popleft() if self._events else self._read_one(None, "event")
            )
            if next_message is None:
                return
            if next_message["type"] != "event":
                continue
            try:
                yield protocol.parse_event(next_message)
            except protocol.ProtocolError as exc:
                raise OperationFailed(f"the core sent a bad event: {exc}") from None

    def answer_timeout(self, method: str) -> float:
        """Seconds to wait for ``method``'s answer: longer for methods that go to the network."""
        spec = METHODS.get(method)
        if self._default_timeout and spec is not None and spec.slow:
            return max(self.timeout, SLOW_ANSWER_TIMEOUT)
        return self.timeout

    # -- plumbing ----------------------------------------------------------

    def _send_request(self, method: str, params: Mapping[str, Any] | None) -> int:
        request_id = self._next_id
        self._next_id += 1
        data = protocol.encode(protocol.request(request_id, method, params))
        try:
            self._stream.send(data)
        except OSError as exc:
            raise CoreUnreachable(
                f"lost the connection to the core on {self.path} ({exc})"
            ) from None
        return request_id

    def _await_response(self, request_id: int, method: str) -> Any:
        """The result of request ``request_id``; events that arrive meanwhile are kept for later."""
        deadline = time.monotonic() + self.answer_timeout(method)
        while True:
            message = self._next_message(deadline, method)
            if message["type"] == "event":
                self._events.append(message)
                continue
            try:
                answer_id, ok, result = protocol.parse_response(message)
            except protocol.ProtocolError as exc:
                raise OperationFailed(f"{method}: the core sent a bad answer: {exc}") from None
            # No id: the core could not read our line, which can only be this request's.
            if answer_id == request_id or (answer_id is None and not ok):
                if not ok:
                    code, text = result
                    raise RequestFailed(method, code, text)
                return result

    def _next_message(self, deadline: float, waiting_for: str) -> dict[str, Any]:
        message = self._read_one(deadline, waiting_for)
        if message is None:
            raise CoreUnreachable(
                f"the core on {self.path} closed the connection while answering {waiting_for}"
            )
        return message

    def _read_one(self, deadline: float | None, waiting_for: str) -> dict[str, Any] | None:
        """The next message from the core, or None when it closed the connection."""
        while not self._inbox:
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise OperationFailed(f"{waiting_for}: no answer from the core on {self.path}")
                self._stream.settimeout(remaining)
            try:
                data = self._stream.recv()
            except TimeoutError:
                raise OperationFailed(
                    f"{waiting_for}: no answer from the core on {self.path}"
                ) from None
            except OSError as exc:
                raise CoreUnreachable(
                    f"lost the connection to the core on {self.path} ({exc})"
                ) from None
            if not data:
                return None
            for item in self._decoder.feed(data):
                if isinstance(item, protocol.LineError):
                    raise OperationFailed(
                        f"the core on {self.path} sent a bad line: {item.message}"
                    )
                self._inbox.append(item)
        return self._inbox.popleft()
