"""Is the process serving a ``nodekeeper-*`` named pipe one a client may trust?

Any user can create a pipe named ``\\\\.\\pipe\\nodekeeper-storagenode`` before
the service does, and a CLI or tray that talked to it would show that user's
answers and send it commands. So before a client sends anything it asks who
serves the pipe (``GetNamedPipeServerProcessId``, then that process's token)
and talks only to SYSTEM, an elevated administrator, the service's own
virtual account (``NT SERVICE\\nodekeeper-<instance>``) or itself.

:func:`trusted_server` is the pure decision; the Win32 calls sit behind
:class:`PipeOwnerApi` (``_win32_pipe.CtypesPipeOwnerApi`` on Windows, a
stand-in in the tests). Nothing here reads or writes the pipe's data.
"""

from __future__ import annotations

import hashlib
import struct
import sys
from dataclasses import dataclass
from typing import Protocol

from nodekeeper.core.errors import CoreUnreachable
from nodekeeper.core.paths import WINDOWS_PIPE_PREFIX
from nodekeeper.core.platform.winpipe import ADMINISTRATORS_SID, SYSTEM_SID

# NT SERVICE\<name>: S-1-5-80 followed by the SHA-1 of the upper-case name.
_SERVICE_SID_PREFIX = "S-1-5-80-"


@dataclass(frozen=True)
class PipeServer:
    """Who serves a pipe: the server process and the user of its token."""

    pid: int
    # The token's user; when the token is closed to the client (a SYSTEM
    # service seen by a standard user), the pipe object's owner instead.
    user_sid: str
    is_admin: bool  # member of Administrators, elevated


class UntrustedPipeServer(CoreUnreachable):
    """The pipe is served by a process that is not a nodekeeper service or the user's own."""


def service_account_sid(service_name: str) -> str:
    """The SID of the virtual account ``NT SERVICE\\<service_name>`` (computed, as Windows does)."""
    digest = hashlib.sha1(service_name.upper().encode("utf-16-le")).digest()
    parts = struct.unpack("<5I", digest)
    return _SERVICE_SID_PREFIX + "-".join(str(part) for part in parts)


def service_name_of(pipe_path: str) -> str:
    """``\\\\.\\pipe\\nodekeeper-x`` -> ``nodekeeper-x``: a core's pipe is named after its service."""
    return (
        pipe_path[len(WINDOWS_PIPE_PREFIX) :] if pipe_path.startswith(WINDOWS_PIPE_PREFIX) else ""
    )


def trusted_server(server: PipeServer, *, own_sid: str, pipe_path: str) -> bool:
    """SYSTEM, Administrators, an elevated administrator, the pipe's service account, or us."""
    trusted = {SYSTEM_SID, ADMINISTRATORS_SID, own_sid}
    service = service_name_of(pipe_path)
    if service:
        trusted.add(service_account_sid(service))
    return server.user_sid in trusted or server.is_admin


def refusal(server: PipeServer, *, own_sid: str, pipe_path: str) -> str | None:
    """One line saying why the client must not talk to ``server``, or None when it may."""
    if trusted_server(server, own_sid=own_sid, pipe_path=pipe_path):
        return None
    return (
        f"{pipe_path} is served by pid {server.pid} running as {server.user_sid}, "
        "not by a nodekeeper service or your own account; not connecting"
    )


class PipeOwnerApi(Protocol):
    """The Win32 calls the check makes on a connected client handle."""

    def own_user_sid(self) -> str: ...

    def pipe_server(self, handle: int) -> PipeServer: ...


def check_pipe_server(pipe_path: str, handle: int, api: PipeOwnerApi) -> None:
    """Raise :class:`UntrustedPipeServer` (one line) unless the pipe's server is trusted."""
    try:
        server = api.pipe_server(handle)
        own_sid = api.own_user_sid()
    except OSError as exc:
        raise UntrustedPipeServer(
            f"cannot tell who serves {pipe_path} ({exc}); not connecting"
        ) from None
    reason = refusal(server, own_sid=own_sid, pipe_path=pipe_path)
    if reason is not None:
        raise UntrustedPipeServer(reason)


def ctypes_pipe_owner_api() -> PipeOwnerApi:
    """The real Win32 calls; the bindings are imported on Windows only."""
    if sys.platform == "win32":
        from nodekeeper.core.platform._win32_pipe import CtypesPipeOwnerApi

        return CtypesPipeOwnerApi()
    raise OSError("named pipes need Windows")
