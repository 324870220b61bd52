"""The control socket's file on Unix: bound safely, replaced when stale, removed when ours.

:class:`UnixListener` binds ``paths.socket`` with mode 0660 and the
control group, refuses to start when another core answers on it or the
path is not a socket, replaces a socket file nobody answers on, and on
close removes the file only if it is still the one it bound (a newer core
may already have replaced it). Connections are handed to the server's
callback as they are accepted; nothing here reads or writes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from nodekeeper.core.errors import OperationFailed
from nodekeeper.core.ipc import protocol
from nodekeeper.core.paths import WINDOWS_PIPE_PREFIX

_log = logging.getLogger(__name__)

SOCKET_MODE = 0o660
STALE_PROBE_TIMEOUT = 1.0
# Connection storms queue here instead of being refused (the kernel caps it at somaxconn).
BACKLOG = 1024

ClientCallback = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Coroutine[Any, Any, None]]


class UnixListener:
    def __init__(self, path: str, control_gid: Callable[[], int | None]) -> None:
        self.path = path
        self._control_gid = control_gid
        self._server: asyncio.base_events.Server | None = None
        self._inode: tuple[int, int] | None = None

    async def start(self, on_client: ClientCallback) -> None:
        """Listen on the socket; raise OperationFailed (one line) when that is not possible."""
        if sys.platform == "win32":
            raise OperationFailed(
                f"cannot listen on {self.path}: Windows has no Unix sockets; "
                f"set paths.socket to a pipe name ({WINDOWS_PIPE_PREFIX}nodekeeper-INSTANCE)"
            )
        await self._remove_stale_socket()
        directory = os.path.dirname(self.path) or "."
        try:
            os.makedirs(directory, mode=0o755, exist_ok=True)
            self._server = await asyncio.start_unix_server(
                on_client, path=self.path, limit=protocol.MAX_LINE + 1, backlog=BACKLOG
            )
            info = os.stat(self.path)
            self._inode = (info.st_dev, info.st_ino)
            # Bound with the process umask (022 by default: nobody else may connect
            # yet), then opened up to exactly 0660 and the control group.
            os.chmod(self.path, SOCKET_MODE)
            gid = self._control_gid()
            if gid is not None:
                try:
                    os.chown(self.path, -1, gid)
                except PermissionError:
                    _log.warning("cannot give %s to group nodekeeper (not allowed)", self.path)
        except OSError as exc:
            self.stop_accepting()
            await self.wait_closed()
            raise OperationFailed(f"cannot listen on {self.path}: {exc.strerror or exc}") from None

    def stop_accepting(self) -> None:
        if self._server is not None:
            self._server.close()

    async def wait_closed(self) -> None:
        """After :meth:`stop_accepting` and the connections are gone: release the socket file."""
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


async def _answers(path: str) -> bool:
    """Whether something accepts connections on the Unix socket ``path``."""
    if sys.platform == "win32":
        return False
    try:
        _reader, writer = await asyncio.wait_for(
            asyncio.open_unix_connection(path), STALE_PROBE_TIMEOUT
        )
    except (OSError, TimeoutError):
        return False
    writer.transport.abort()
    return True
