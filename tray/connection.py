"""One control-socket connection to a core, on the Qt event loop (never blocks the UI).

Speaks the JSON-lines protocol of docs/contract.md, Control socket over ``QLocalSocket``
(a Unix socket, or a named pipe on Windows), with the framing and checks of
``nodekeeper.core.ipc.protocol`` and the methods table of
``nodekeeper.core.ipc.methods``: waits for ``hello``, subscribes (a full status
snapshot, then events), refreshes the status after each event, and
reconnects with capped exponential backoff when the core goes away.
Everything a core sends is validated; a bad message is reported as one
line and ignored, never raised into Qt.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtNetwork import QLocalSocket

from nodekeeper.core.ipc import protocol
from nodekeeper.core.ipc.methods import METHODS, ParamError
from nodekeeper.tray.status import BadStatus, NodeStatus, parse_status

HELLO_TIMEOUT_MS = 5000
REQUEST_TIMEOUT_MS = 15000
# Events that come in bursts do not each need a fresh status.
_REFRESH_DEBOUNCE_MS = 150
# Not everything the status shows comes with an event (uptime, health, a
# node that finished starting): poll it too, cheaply, over the local socket.
STATUS_POLL_MS = 5000
_NO_REFRESH_EVENTS = frozenset({"update-progress"})

Reply = Callable[[bool, Any], None]


# (socket path, connected handle) -> why the tray must not talk to that server, or None.
ServerCheck = Callable[[str, int], str | None]


def trusted_pipe_server(socket_path: str, handle: int) -> str | None:
    """On Windows, refuse a pipe served by anyone but a nodekeeper service or this user."""
    if sys.platform == "win32":
        from nodekeeper.core.platform.winpipe_owner import (
            UntrustedPipeServer,
            check_pipe_server,
            ctypes_pipe_owner_api,
        )

        try:
            check_pipe_server(socket_path, handle, ctypes_pipe_owner_api())
        except UntrustedPipeServer as exc:
            return str(exc)
    # Unix sockets: the core checks its peers; the socket's folder is root's or the user's.
    return None


def _refusal(method: str, params: Mapping[str, Any] | None) -> str | None:
    """Why the core would refuse this request as malformed, or None."""
    spec = METHODS.get(method)
    if spec is None:
        return f"{method}: unknown method"
    try:
        spec.check_params(params or {})
    except ParamError as exc:
        return f"{method}: {exc}"
    return None


def reconnect_delay(
    attempt: int, base: float = 0.5, cap: float = 10.0, jitter: float = 0.0
) -> float:
    """Seconds before reconnect ``attempt`` (0-based): doubling, capped, minus up to 25 % jitter."""
    delay = min(cap, base * 2.0 ** min(attempt, 30))
    return delay * (1.0 - 0.25 * jitter) if attempt > 0 else delay


class CoreConnection(QObject):
    """A live link to one core; emits what it learns, reconnects by itself until stopped."""

    helloReceived = Signal(dict)
    statusReceived = Signal(object)  # NodeStatus
    eventReceived = Signal(str, dict)  # kind, data
    connectionLost = Signal(str)  # one-line reason
    problem = Signal(str)  # one-line description of a bad message

    def __init__(
        self,
        socket_path: str,
        parent: QObject | None = None,
        max_delay: float = 10.0,
        poll_ms: int = STATUS_POLL_MS,
        request_timeout_ms: int = REQUEST_TIMEOUT_MS,
        check_server: ServerCheck | None = None,
    ) -> None:
        super().__init__(parent)
        self.socket_path = socket_path
        self._check_server = check_server or trusted_pipe_server
        self.max_delay = max_delay
        self.request_timeout_ms = request_timeout_ms
        self._socket = QLocalSocket(self)
        self._socket.connected.connect(self._on_connected)
        self._socket.readyRead.connect(self._on_ready_read)
        self._socket.disconnected.connect(lambda: self._on_lost("connection closed by the core"))
        self._socket.errorOccurred.connect(self._on_error)
        self._decoder = protocol.LineDecoder()
        self._have_status = False
        self._greeted = False
        self._stopped = True
        self._attempt = 0
        self._next_id = 1
        self._pending: dict[int, tuple[str, Reply | None, QTimer]] = {}
        self._reconnect = QTimer(self, singleShot=True)
        self._reconnect.timeout.connect(self._connect)
        self._hello_timer = QTimer(self, singleShot=True, interval=HELLO_TIMEOUT_MS)
        self._hello_timer.timeout.connect(lambda: self._drop("no hello from the core"))
        self._refresh = QTimer(self, singleShot=True, interval=_REFRESH_DEBOUNCE_MS)
        self._refresh.timeout.connect(self.refresh_status)
        self._poll = QTimer(self, interval=poll_ms)
        self._poll.timeout.connect(self._poll_status)
        self.can_control = False

    # -- public ------------------------------------------------------------

    @property
    def is_ready(self) -> bool:
        return (
            self._greeted and self._socket.state() == QLocalSocket.LocalSocketState.ConnectedState
        )

    def start(self) -> None:
        self._stopped = False
        self._connect()

    def stop(self) -> None:
        self._stopped = True
        self._reconnect.stop()
        self._poll.stop()
        self._socket.abort()
        self._fail_pending("tray is closing")

    def request(
        self, method: str, params: Mapping[str, Any] | None = None, reply: Reply | None = None
    ) -> None:
        """Send a request; ``reply(ok, result_or_message)`` is called exactly once, later.

        A request the table of methods would refuse is answered here, without
        a round trip: it is a bug in the tray, reported as a problem.
        """
        refusal = _refusal(method, params)
        if refusal is not None:
            self.problem.emit(f"{self.socket_path}: {refusal}")
        elif not self.is_ready:
            refusal = "core not reachable"
        if refusal is not None:
            if reply is not None:
                QTimer.singleShot(0, lambda: reply(False, refusal))
            return
        request_id = self._next_id
        self._next_id += 1
        timer = QTimer(self, singleShot=True, interval=self.request_timeout_ms)
        # A core that stops answering is as good as gone: reconnecting shows it
        # as unreachable and recovers by itself once it answers again.
        timer.timeout.connect(lambda: self._drop(f"{method}: no answer from the core"))
        timer.start()
        self._pending[request_id] = (method, reply, timer)
        self._socket.write(protocol.encode(protocol.request(request_id, method, params)))
        self._socket.flush()

    def refresh_status(self) -> None:
        self.request("status", reply=self._on_status)

    def _poll_status(self) -> None:
        busy = any(method == "status" for method, _reply, _timer in self._pending.values())
        if self.is_ready and not busy:
            self.refresh_status()

    # -- socket callbacks --------------------------------------------------

    def _connect(self) -> None:
        if self._stopped:
            return
        self._decoder = protocol.LineDecoder()
        self._greeted = False
        self._socket.abort()
        self._socket.connectToServer(self.socket_path)

    def _on_connected(self) -> None:
        # Before reading a byte: on Windows anyone may have created the pipe first.
        refusal = self._check_server(self.socket_path, int(self._socket.socketDescriptor()))
        if refusal is not None:
            self._drop(refusal)
            return
        self._hello_timer.start()

    def _on_error(self, _error: QLocalSocket.LocalSocketError) -> None:
        self._on_lost(self._socket.errorString())

    def _on_ready_read(self) -> None:
        for item in self._decoder.feed(bytes(self._socket.readAll().data())):
            try:
                if isinstance(item, protocol.LineError):
                    raise protocol.ProtocolError(item.message)
                self._handle(item)
            except protocol.ProtocolError as exc:
                if not self._greeted:
                    self._drop(str(exc))
                    return
                self.problem.emit(f"{self.socket_path}: {exc}")

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if not self._greeted:
            hello = protocol.parse_hello(message)
            self._hello_timer.stop()
            self._greeted = True
            self._have_status = False
            self._attempt = 0
            self.can_control = hello["can_control"]
            self.helloReceived.emit(hello)
            self._poll.start()
            self.request("subscribe", reply=self._on_subscribed)
        elif kind == "response":
            request_id, ok, result = protocol.parse_response(message)
            if request_id is None:
                # The core could not read one of our lines: a bug on our side, never fatal.
                raise protocol.ProtocolError(f"core rejected a request: {result[1]}")
            if request_id not in self._pending:
                raise protocol.ProtocolError(f"response to unknown request id {request_id}")
            self._finish(request_id, ok, result if ok else result[1])
        elif kind == "event":
            event, _time, data = protocol.parse_event(message)
            if event == protocol.SNAPSHOT_EVENT:
                self._on_status(True, data)
                return
            self.eventReceived.emit(event, data)
            # At most one refresh per debounce interval, however dense the events;
            # progress ticks change nothing the poll does not catch.
            if event not in _NO_REFRESH_EVENTS and not self._refresh.isActive():
                self._refresh.start()
        else:
            raise protocol.ProtocolError(f"unexpected {kind!r} message from the core")

    def _on_status(self, ok: bool, result: Any) -> None:
        if not ok:
            self.problem.emit(f"{self.socket_path}: status: {result}")
            return
        try:
            status: NodeStatus = parse_status(result)
        except BadStatus as exc:
            self.problem.emit(f"{self.socket_path}: {exc}")
            return
        self._have_status = True
        self.statusReceived.emit(status)

    def _on_subscribed(self, ok: bool, result: Any) -> None:
        if not ok:
            self.problem.emit(f"{self.socket_path}: subscribe: {result}")
        if not self._have_status:
            self.refresh_status()

    def _finish(self, request_id: int, ok: bool, result: Any) -> None:
        entry = self._pending.pop(request_id, None)
        if entry is None:
            return
        _method, reply, timer = entry
        timer.stop()
        timer.deleteLater()
        if reply is not None:
            reply(ok, result)

    def _fail_pending(self, reason: str) -> None:
        for request_id in list(self._pending):
            self._finish(request_id, False, reason)

    def _drop(self, reason: str) -> None:
        self.problem.emit(f"{self.socket_path}: {reason}")
        # Report our reason first; the abort's own "disconnected" is then a repeat.
        self._on_lost(reason)
        self._socket.abort()

    def _on_lost(self, reason: str) -> None:
        self._poll.stop()
        self._hello_timer.stop()
        self._refresh.stop()
        self._fail_pending("core not reachable")
        was_greeted, self._greeted = self._greeted, False
        if self._stopped or self._reconnect.isActive():
            return
        if was_greeted:
            self._attempt = 0
        delay = reconnect_delay(self._attempt, cap=self.max_delay, jitter=random.random())
        self._attempt += 1
        self._reconnect.start(int(delay * 1000))
        self.connectionLost.emit(reason)
