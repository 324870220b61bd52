"""The control socket on Windows: a named pipe with an explicit security descriptor.

``multiprocessing.connection`` and asyncio's pipe servers create pipes with
a NULL security descriptor (the default DACL of the creating token), which
cannot express "SYSTEM and Administrators full, interactive users
read/write". Here every pipe instance is created with the SDDL of
:func:`pipe_sddl`, remote clients are rejected, and each client's token
decides whether it may control the core (:func:`may_control`).

Every Win32 call goes through :class:`PipeApi`, so the listener and its
bridge to the asyncio server (``winpipe_transport.py``) are tested on any OS
with a stand-in. The ctypes bindings (``_win32_pipe.py``) are imported by
:func:`ctypes_pipe_api` on Windows only; nothing on Linux or macOS loads
them. Nothing here parses protocol messages: bytes go to
:class:`nodekeeper.core.ipc.server.ControlServer` through
:class:`~nodekeeper.core.platform.winpipe_transport.PipeTransport`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from nodekeeper.core.errors import UsageError
from nodekeeper.core.paths import WINDOWS_PIPE_PREFIX, valid_instance_name
from nodekeeper.core.platform.winpipe_transport import PIPE_BUFFER, PipeIO, PipeTransport

_log = logging.getLogger(__name__)

SYSTEM_SID = "S-1-5-18"
ADMINISTRATORS_SID = "S-1-5-32-544"


def pipe_name(instance: str) -> str:
    if not valid_instance_name(instance):
        raise UsageError(f"unsafe instance name {instance!r} for a pipe name")
    return f"{WINDOWS_PIPE_PREFIX}nodekeeper-{instance}"


def pipe_sddl(own_sid: str | None = None) -> str:
    """The pipe's DACL: protected (no inherited entries), SYSTEM + Administrators
    full control, interactive users read/write, and the core's own account full
    control when it is neither SYSTEM nor an administrator (a virtual service account)."""
    entries = [f"(A;;GA;;;{SYSTEM_SID})", f"(A;;GA;;;{ADMINISTRATORS_SID})", "(A;;GRGW;;;IU)"]
    if own_sid and own_sid not in (SYSTEM_SID, ADMINISTRATORS_SID):
        if not own_sid.startswith("S-1-") or not all(p.isdigit() for p in own_sid[4:].split("-")):
            raise ValueError(f"not a SID: {own_sid!r}")
        entries.append(f"(A;;GA;;;{own_sid})")
    return "D:P" + "".join(entries)


@dataclass(frozen=True)
class ClientToken:
    """What the pipe client's access token says about it."""

    user_sid: str
    is_admin: bool  # member of Administrators, elevated


def may_control(token: ClientToken, own_sid: str) -> bool:
    """SYSTEM, elevated Administrators and the core's own account may control."""
    return token.user_sid in (SYSTEM_SID, own_sid) or token.is_admin


class PipeApi(PipeIO, Protocol):
    """The Win32 calls the pipe listener makes (handles are ints); the real
    ones are ``_win32_pipe.CtypesPipeApi``, tests use a stand-in."""

    def own_user_sid(self) -> str: ...

    def create_pipe(self, name: str, sddl: str, first: bool) -> int: ...

    def wait_for_client(self, handle: int) -> None: ...

    def client_token(self, handle: int) -> ClientToken: ...

    def cancel_wait(self, name: str) -> None: ...


ClientHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Coroutine[Any, Any, None]]


class PipeListener:
    """Accepts clients on one pipe name and hands each to ``handler`` on the loop."""

    def __init__(self, name: str, api: PipeApi, handler: ClientHandler) -> None:
        self.name = name
        self._api = api
        self._handler = handler
        self._own_sid = api.own_user_sid()
        self._sddl = pipe_sddl(self._own_sid)
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._next_handle: int | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Create the first instance now (so a second core fails here), then accept in a thread."""
        self._loop = loop
        try:
            self._next_handle = self._api.create_pipe(self.name, self._sddl, True)
        except OSError as exc:
            raise OSError(
                f"cannot create {self.name} (another core may be serving it): {exc}"
            ) from None
        self._thread = threading.Thread(target=self._accept_loop, daemon=True, name="pipe-accept")
        self._thread.start()

    def close(self) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            self._api.cancel_wait(self.name)
        if self._thread is not None:
            self._thread.join(5)

    def _accept_loop(self) -> None:
        assert self._loop is not None
        handle = self._next_handle
        while not self._stopping and handle is not None:
            try:
                self._api.wait_for_client(handle)
            except OSError as exc:
                if not self._stopping:
                    _log.warning("named pipe %s: waiting for a client failed: %s", self.name, exc)
                with contextlib.suppress(OSError):
                    self._api.close(handle)
                handle = self._new_instance()
                continue
            if self._stopping:
                with contextlib.suppress(OSError):
                    self._api.close(handle)
                return
            # The next instance exists before this client is served: no gap
            # in which a client would find no pipe.
            connected, handle = handle, self._new_instance()
            self._loop.call_soon_threadsafe(self._serve, connected)

    def _new_instance(self) -> int | None:
        while not self._stopping:
            try:
                return self._api.create_pipe(self.name, self._sddl, False)
            except OSError as exc:
                _log.error("named pipe %s: cannot create an instance: %s", self.name, exc)
                threading.Event().wait(1.0)
        return None

    def _serve(self, handle: int) -> None:
        assert self._loop is not None
        try:
            token = self._api.client_token(handle)
            can_control = may_control(token, self._own_sid)
        except OSError as exc:
            _log.warning("cannot read the pipe client's token (%s); read-only", exc)
            can_control = False
        reader = asyncio.StreamReader(limit=PIPE_BUFFER * 2, loop=self._loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=self._loop)
        transport = PipeTransport(
            self._api, handle, self._loop, protocol, {"peer_can_control": can_control}
        )
        transport.start()
        writer = asyncio.StreamWriter(transport, protocol, reader, self._loop)
        self._loop.create_task(self._handler(reader, writer))


def ctypes_pipe_api() -> PipeApi:
    """The real Win32 calls; the bindings module is imported here, on Windows only."""
    if sys.platform == "win32":
        from nodekeeper.core.platform._win32_pipe import CtypesPipeApi

        return CtypesPipeApi()
    raise OSError("named pipes need Windows")
