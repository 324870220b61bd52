"""The control socket on Windows: a named pipe with an explicit security descriptor.

``multiprocessing.connection`` and asyncio's pipe servers create pipes with
a NULL security descriptor (the default DACL of the creating token), which
cannot express "SYSTEM and Administrators full, interactive users
read/write". Here every pipe instance is created with the SDDL of
:func:`pipe_sddl`, remote clients are rejected, and each client's token
decides whether it may control the core (:func:`may_control`).

Every Win32 call goes through :class:`PipeApi` (ctypes bindings at the
bottom, defined on Windows only), so the listener and its bridge to the
asyncio server are tested on any OS with a stand-in. Nothing here parses protocol messages: bytes go to
:class:`nodekeeper.core.ipc.server.ControlServer` through an ``asyncio`` transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from nodekeeper.core.errors import UsageError
from nodekeeper.core.paths import WINDOWS_PIPE_PREFIX, valid_instance_name

_log = logging.getLogger(__name__)

SYSTEM_SID = "S-1-5-18"
ADMINISTRATORS_SID = "S-1-5-32-544"
PIPE_BUFFER = 64 * 1024


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


class PipeApi(Protocol):
    """The Win32 calls the pipe listener makes (handles are ints)."""

    def own_user_sid(self) -> str: ...

    def create_pipe(self, name: str, sddl: str, first: bool) -> int: ...

    def wait_for_client(self, handle: int) -> None: ...

    def client_token(self, handle: int) -> ClientToken: ...

    def read(self, handle: int, size: int) -> bytes: ...

    def write(self, handle: int, data: bytes) -> None: ...

    def close(self, handle: int) -> None: ...

    def cancel_wait(self, name: str) -> None: ...


ClientHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Coroutine[Any, Any, None]]


class PipeTransport(asyncio.Transport):
    """An asyncio transport over one connected pipe instance.

    A reader thread feeds the protocol on the loop; writes are queued to a
    writer thread, and :meth:`get_write_buffer_size` counts what is queued,
    so the server's per-client bound works as on Unix.
    """

    def __init__(
        self,
        api: PipeApi,
        handle: int,
        loop: asyncio.AbstractEventLoop,
        protocol: asyncio.Protocol,
        extra: dict[str, Any],
    ) -> None:
        super().__init__(extra)
        self._api = api
        self._handle = handle
        self._loop = loop
        self._protocol = protocol
        self._closing = False
        self._closed = False
        self._queue: deque[bytes] = deque()
        self._queued = 0
        self._lock = threading.Condition()
        self._reader = threading.Thread(target=self._read_loop, daemon=True, name="pipe-reader")
        self._writer = threading.Thread(target=self._write_loop, daemon=True, name="pipe-writer")

    def start(self) -> None:
        self._protocol.connection_made(self)
        self._reader.start()
        self._writer.start()

    # -- asyncio.Transport -------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing:
            return
        with self._lock:
            self._queue.append(bytes(data))
            self._queued += len(data)
            self._lock.notify()

    def get_write_buffer_size(self) -> int:
        return self._queued

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self.abort()

    def abort(self) -> None:
        if self._closing:
            return
        self._closing = True
        with self._lock:
            self._queue.clear()
            self._queued = 0
            self._lock.notify()
        self._close_handle()
        self._loop.call_soon(self._protocol.connection_lost, None)

    def can_write_eof(self) -> bool:
        return False

    def is_reading(self) -> bool:
        return not self._closing

    def pause_reading(self) -> None:  # the server reads as fast as data comes
        pass

    def resume_reading(self) -> None:
        pass

    # -- threads -----------------------------------------------------------

    def _close_handle(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        with contextlib.suppress(OSError):
            self._api.close(self._handle)

    def _read_loop(self) -> None:
        while not self._closing:
            try:
                data = self._api.read(self._handle, PIPE_BUFFER)
            except OSError:
                data = b""
            if not data:
                break
            self._call(self._protocol.data_received, data)
        self._call(self._eof)

    def _eof(self) -> None:
        if not self._closing:
            self._protocol.eof_received()

    def _write_loop(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closing:
                    self._lock.wait()
                if self._closing:
                    return
                data = self._queue.popleft()
            try:
                self._api.write(self._handle, data)
            except OSError:
                self._call(self.abort)
                return
            with self._lock:
                self._queued -= len(data)

    def _call(self, function: Callable[..., Any], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # loop already closed
            self._loop.call_soon_threadsafe(function, *args)


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
    if sys.platform != "win32":
        raise OSError("named pipes need Windows")
    api: PipeApi = globals()["CtypesPipeApi"]()
    return api


if sys.platform == "win32":
    import ctypes
    from ctypes import wintypes

    _k32 = ctypes.WinDLL("kernel32", use_last_error=True)
    _adv = ctypes.WinDLL("advapi32", use_last_error=True)
    _k32.CreateNamedPipeW.restype = wintypes.HANDLE
    _k32.CreateEventW.restype = wintypes.HANDLE
    _k32.OpenProcess.restype = wintypes.HANDLE
    _k32.GetCurrentProcess.restype = wintypes.HANDLE

    PIPE_ACCESS_DUPLEX = 0x3
    FILE_FLAG_OVERLAPPED = 0x40000000
    FILE_FLAG_FIRST_PIPE_INSTANCE = 0x00080000
    PIPE_REJECT_REMOTE_CLIENTS = 0x8
    PIPE_UNLIMITED_INSTANCES = 255
    ERROR_IO_PENDING = 997
    ERROR_PIPE_CONNECTED = 535
    ERROR_BROKEN_PIPE = 109
    ERROR_OPERATION_ABORTED = 995
    INVALID_HANDLE_VALUE = wintypes.HANDLE(-1).value
    TOKEN_QUERY = 0x8
    TOKEN_DUPLICATE = 0x2
    TOKEN_USER_CLASS = 1
    SECURITY_IDENTIFICATION = 1
    PROCESS_QUERY_LIMITED_INFORMATION = 0x1000

    class _SECURITY_ATTRIBUTES(ctypes.Structure):
        _fields_ = [
            ("nLength", wintypes.DWORD),
            ("lpSecurityDescriptor", wintypes.LPVOID),
            ("bInheritHandle", wintypes.BOOL),
        ]

    class _OVERLAPPED(ctypes.Structure):
        _fields_ = [
            ("Internal", ctypes.c_size_t),
            ("InternalHigh", ctypes.c_size_t),
            ("Offset", wintypes.DWORD),
            ("OffsetHigh", wintypes.DWORD),
            ("hEvent", wintypes.HANDLE),
        ]

    def _fail(what: str) -> OSError:
        return ctypes.WinError(ctypes.get_last_error(), what)  # type: ignore[call-arg]

    def _sid_string(sid: Any) -> str:
        text = wintypes.LPWSTR()
        if not _adv.ConvertSidToStringSidW(sid, ctypes.byref(text)):
            raise _fail("ConvertSidToStringSidW")
        try:
            return str(text.value)
        finally:
            _k32.LocalFree(text)

    def _token_user_sid(token: Any) -> str:
        size = wintypes.DWORD(0)
        _adv.GetTokenInformation(token, TOKEN_USER_CLASS, None, 0, ctypes.byref(size))
        buffer = ctypes.create_string_buffer(size.value)
        if not _adv.GetTokenInformation(token, TOKEN_USER_CLASS, buffer, size, ctypes.byref(size)):
            raise _fail("GetTokenInformation")
        # TOKEN_USER starts with SID_AND_ATTRIBUTES whose first field is the PSID.
        sid = ctypes.cast(buffer, ctypes.POINTER(wintypes.LPVOID))[0]
        return _sid_string(sid)

    class CtypesPipeApi:
        """Overlapped pipe I/O, so a blocked read never blocks a write on the same handle."""

        def own_user_sid(self) -> str:
            token = wintypes.HANDLE()
            if not _adv.OpenProcessToken(
                _k32.GetCurrentProcess(), TOKEN_QUERY, ctypes.byref(token)
            ):
                raise _fail("OpenProcessToken")
            try:
                return _token_user_sid(token)
            finally:
                _k32.CloseHandle(token)

        def create_pipe(self, name: str, sddl: str, first: bool) -> int:
            descriptor = wintypes.LPVOID()
            if not _adv.ConvertStringSecurityDescriptorToSecurityDescriptorW(
                sddl, 1, ctypes.byref(descriptor), None
            ):
                raise _fail("ConvertStringSecurityDescriptorToSecurityDescriptorW")
            try:
                attributes = _SECURITY_ATTRIBUTES(
                    ctypes.sizeof(_SECURITY_ATTRIBUTES), descriptor, False
                )
                mode = PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED
                if first:
                    mode |= FILE_FLAG_FIRST_PIPE_INSTANCE
                handle = _k32.CreateNamedPipeW(
                    name,
                    mode,
                    PIPE_REJECT_REMOTE_CLIENTS,  # byte mode, blocking semantics via overlapped waits
                    PIPE_UNLIMITED_INSTANCES,
                    PIPE_BUFFER,
                    PIPE_BUFFER,
                    0,
                    ctypes.byref(attributes),
                )
            finally:
                _k32.LocalFree(descriptor)
            if handle is None or handle == INVALID_HANDLE_VALUE:
                raise _fail("CreateNamedPipeW")
            return int(handle)

        def _wait(self, handle: int, start: Callable[[Any], int], what: str) -> int:
            event = _k32.CreateEventW(None, True, False, None)
            if not event:
                raise _fail("CreateEventW")
            try:
                overlapped = _OVERLAPPED(hEvent=event)
                if not start(ctypes.byref(overlapped)):
                    error = ctypes.get_last_error()
                    if error == ERROR_PIPE_CONNECTED:
                        return 0
                    if error == ERROR_BROKEN_PIPE:
                        return -1
                    if error != ERROR_IO_PENDING:
                        raise ctypes.WinError(error, what)  # type: ignore[call-arg]
                done = wintypes.DWORD(0)
                if not _k32.GetOverlappedResult(
                    wintypes.HANDLE(handle), ctypes.byref(overlapped), ctypes.byref(done), True
                ):
                    error = ctypes.get_last_error()
                    if error in (ERROR_BROKEN_PIPE, ERROR_OPERATION_ABORTED):
                        return -1
                    raise ctypes.WinError(error, what)  # type: ignore[call-arg]
                return int(done.value)
            finally:
                _k32.CloseHandle(event)

        def wait_for_client(self, handle: int) -> None:
            result = self._wait(
                handle,
                lambda ov: _k32.ConnectNamedPipe(wintypes.HANDLE(handle), ov),
                "ConnectNamedPipe",
            )
            if result < 0:
                raise OSError("ConnectNamedPipe: aborted")

        def client_token(self, handle: int) -> ClientToken:
            pid = wintypes.ULONG(0)
            if not _k32.GetNamedPipeClientProcessId(wintypes.HANDLE(handle), ctypes.byref(pid)):
                raise _fail("GetNamedPipeClientProcessId")
            process = _k32.OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, False, pid.value)
            if not process:
                raise _fail("OpenProcess")
            token = wintypes.HANDLE()
            identity = wintypes.HANDLE()
            admins = ctypes.c_void_p()
            try:
                if not _adv.OpenProcessToken(
                    process, TOKEN_QUERY | TOKEN_DUPLICATE, ctypes.byref(token)
                ):
                    raise _fail("OpenProcessToken")
                user_sid = _token_user_sid(token)
                if not _adv.DuplicateToken(token, SECURITY_IDENTIFICATION, ctypes.byref(identity)):
                    raise _fail("DuplicateToken")
                if not _adv.ConvertStringSidToSidW(ADMINISTRATORS_SID, ctypes.byref(admins)):
                    raise _fail("ConvertStringSidToSidW")
                member = wintypes.BOOL(False)
                if not _adv.CheckTokenMembership(identity, admins, ctypes.byref(member)):
                    raise _fail("CheckTokenMembership")
                return ClientToken(user_sid=user_sid, is_admin=bool(member.value))
            finally:
                if admins:
                    _k32.LocalFree(admins)
                for item in (identity, token):
                    if item:
                        _k32.CloseHandle(item)
                _k32.CloseHandle(process)

        def read(self, handle: int, size: int) -> bytes:
            buffer = ctypes.create_string_buffer(size)
            count = self._wait(
                handle,
                lambda ov: _k32.ReadFile(wintypes.HANDLE(handle), buffer, size, None, ov),
                "ReadFile",
            )
            return b"" if count <= 0 else buffer.raw[:count]

        def write(self, handle: int, data: bytes) -> None:
            view = memoryview(data)
            while view:
                chunk = bytes(view[:PIPE_BUFFER])
                count = self._wait(
                    handle,
                    lambda ov, c=chunk: _k32.WriteFile(  # type: ignore[misc]
                        wintypes.HANDLE(handle), c, len(c), None, ov
                    ),
                    "WriteFile",
                )
                if count <= 0:
                    raise OSError("WriteFile: the client went away")
                view = view[count:]

        def close(self, handle: int) -> None:
            _k32.CancelIoEx(wintypes.HANDLE(handle), None)
            _k32.CloseHandle(wintypes.HANDLE(handle))

        def cancel_wait(self, name: str) -> None:
            # Connecting as a client ends the pending ConnectNamedPipe.
            with open(name, "r+b", buffering=0):
                pass
