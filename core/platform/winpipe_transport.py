"""An asyncio transport over one connected named-pipe instance.

asyncio only serves named pipes it creates itself, with a NULL security
descriptor; the pipes of :mod:`nodekeeper.core.platform.winpipe` carry their
own, so each connected instance is bridged to the loop here with a reader
and a writer thread. Every Win32 call goes through
:class:`PipeIO` (the real one lives in ``_win32_pipe.py``, imported on
Windows only), so this runs on any OS with a stand-in. It must never parse
what it carries: bytes go to the protocol the control server handed over.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

# Read size, in/out buffer of each pipe instance and write chunk: one line of
# the protocol (64 KiB at most) fits in one read.
PIPE_BUFFER = 64 * 1024


class PipeIO(Protocol):
    """The calls a connected pipe instance needs (handles are ints)."""

    def read(self, handle: int, size: int) -> bytes: ...

    def write(self, handle: int, data: bytes) -> None: ...

    def close(self, handle: int) -> None: ...


class PipeTransport(asyncio.Transport):
    """An asyncio transport over one connected pipe instance.

    A reader thread feeds the protocol on the loop; writes are queued to a
    writer thread, and :meth:`get_write_buffer_size` counts what is queued,
    so the server's per-client bound works as on Unix.
    """

    def __init__(
        self,
        api: PipeIO,
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
