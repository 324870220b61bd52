"""An in-memory client for ControlServer.serve_connection: no sockets, no processes.

:class:`MemoryPeer` plays one connected client on the running loop: what it
sends goes into an ``asyncio.StreamReader``, what the server writes lands
in a :class:`MemoryTransport`, and its peer credentials come from a fake
socket whose ``getsockopt`` answers like the kernel's ``SO_PEERCRED``.
A peer that stops reading lets the transport's buffer grow, as a socket's
would.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import Any

from nodekeeper.core.ipc import protocol
from nodekeeper.core.ipc.server import ControlServer


class PeerSocket:
    """Answers ``SO_PEERCRED`` (Linux) for a peer with this uid and gid."""

    def __init__(self, uid: int, gid: int, pid: int = 4321, fail: bool = False) -> None:
        self.creds = (pid, uid, gid)
        self.fail = fail

    def getsockopt(self, level: int, option: int, buflen: int) -> bytes:
        if self.fail:
            raise OSError("peer credentials unavailable")
        assert (level, option) == (socket.SOL_SOCKET, socket.SO_PEERCRED)
        return struct.pack("3i", *self.creds)


class MemoryTransport:
    """Collects what the server writes; counts it as buffered until the peer reads it."""

    def __init__(self, reader: asyncio.StreamReader, extra: dict[str, Any]) -> None:
        self.reader = reader
        self.extra = extra
        self.unread = bytearray()
        self.aborted = False
        self.written = asyncio.Event()

    def write(self, data: bytes) -> None:
        assert not self.aborted, "write after abort"
        self.unread += data
        self.written.set()

    def get_write_buffer_size(self) -> int:
        return len(self.unread)

    def is_closing(self) -> bool:
        return self.aborted

    def abort(self) -> None:
        # As asyncio's connection_lost does: the server's next read sees the end.
        if not self.aborted:
            self.reader.feed_eof()
        self.aborted = True
        self.written.set()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.extra.get(name, default)


class MemoryPeer:
    """One client of ``server``, connected in-process."""

    def __init__(self, server: ControlServer, **extra: Any) -> None:
        self.reader = asyncio.StreamReader()
        self.transport = MemoryTransport(self.reader, extra)
        self.decoder = protocol.LineDecoder()
        self.inbox: list[dict[str, Any]] = []
        self.task = asyncio.create_task(server.serve_connection(self.reader, self.transport))

    def send(self, data: bytes) -> None:
        self.reader.feed_data(data)

    def request(self, request_id: int, method: str, **params: Any) -> None:
        self.send(protocol.encode(protocol.request(request_id, method, params)))

    async def read(self) -> dict[str, Any]:
        """The next message the server sent, waiting for it if need be."""
        while not self.inbox:
            if not self.transport.unread:
                if self.transport.aborted:
                    raise ConnectionError("the server dropped the connection")
                self.transport.written.clear()
                await self.transport.written.wait()
                continue
            data = bytes(self.transport.unread)
            self.transport.unread.clear()
            for item in self.decoder.feed(data):
                assert isinstance(item, dict), item
                self.inbox.append(item)
        return self.inbox.pop(0)

    async def close(self) -> None:
        if not self.reader.at_eof():
            self.reader.feed_eof()
        await self.task
