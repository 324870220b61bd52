"""ctypes bindings for the named pipe of ``winpipe.py`` (Windows only).

:class:`CtypesPipeApi` implements :class:`~nodekeeper.core.platform.winpipe.PipeApi`
with overlapped I/O, so a blocked read never blocks a write on the same
handle. Imported only by :func:`~nodekeeper.core.platform.winpipe.ctypes_pipe_api`,
and only on Windows. It holds no decisions (which ACL, who may control,
when to create an instance): those live in ``winpipe.py``, where the tests
drive them through a stand-in for this class; the bindings themselves need
Windows to run.
"""

from __future__ import annotations

import sys

if sys.platform == "win32":
    import ctypes
    from collections.abc import Callable
    from ctypes import wintypes
    from typing import Any

    from nodekeeper.core.platform.winpipe import ADMINISTRATORS_SID, ClientToken
    from nodekeeper.core.platform.winpipe_owner import PipeServer
    from nodekeeper.core.platform.winpipe_transport import PIPE_BUFFER

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
    ERROR_ACCESS_DENIED = 5
    SE_KERNEL_OBJECT = 6
    OWNER_SECURITY_INFORMATION = 0x1

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

    def _process_token(pid: int) -> ClientToken:
        """The user and elevated-Administrators membership of process ``pid``'s token."""
        process = _k32.OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
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
            return _process_token(pid.value)

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

    def _pipe_owner_sid(handle: int) -> str:
        owner = ctypes.c_void_p()
        descriptor = ctypes.c_void_p()
        error = _adv.GetSecurityInfo(
            wintypes.HANDLE(handle),
            SE_KERNEL_OBJECT,
            OWNER_SECURITY_INFORMATION,
            ctypes.byref(owner),
            None,
            None,
            None,
            ctypes.byref(descriptor),
        )
        if error:
            raise ctypes.WinError(error, "GetSecurityInfo")  # type: ignore[call-arg]
        try:
            return _sid_string(owner)
        finally:
            _k32.LocalFree(descriptor)

    class CtypesPipeOwnerApi:
        """Who serves the pipe a client has opened (``winpipe_owner.PipeOwnerApi``)."""

        def own_user_sid(self) -> str:
            return CtypesPipeApi().own_user_sid()

        def pipe_server(self, handle: int) -> PipeServer:
            pid = wintypes.ULONG(0)
            if not _k32.GetNamedPipeServerProcessId(wintypes.HANDLE(handle), ctypes.byref(pid)):
                raise _fail("GetNamedPipeServerProcessId")
            try:
                token = _process_token(pid.value)
            except OSError as exc:
                if getattr(exc, "winerror", None) != ERROR_ACCESS_DENIED:
                    raise
                # A standard user may not open a service's token; the pipe's
                # owner (the creator of its first instance) says the same.
                return PipeServer(pid=pid.value, user_sid=_pipe_owner_sid(handle), is_admin=False)
            return PipeServer(pid=pid.value, user_sid=token.user_sid, is_admin=token.is_admin)
