"""The disk side of log capture: one thread that appends whole lines to a file.

Producers (pipe readers, the core's logging handler) call :meth:`put`:
chunks go into a buffer bounded in bytes. A full buffer in front of a
working but slower disk makes the producer wait for the next batch to be
written (the node is slowed to the disk's pace, nothing is lost); a full
buffer in front of a hung disk (one batch stuck for ``STALL_TIMEOUT``), or
a disk that refuses writes (full, read-only, I/O error), makes it drop
lines at once, counted exactly. As soon as a write succeeds again a marker
line ``<time> nodekeeper: N lines dropped: <reason>`` is written first and
one ``logs-dropped`` event is published for the episode.

Rotation and pruning decisions come from :mod:`nodekeeper.core.logs.policy`; the
gzip work is handed to a :class:`nodekeeper.core.logs.compress.Compressor`. This module
must never log through :mod:`logging` (it also carries the core's own log).
"""

from __future__ import annotations

import errno
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from nodekeeper.core.logs import files
from nodekeeper.core.logs.compress import Compressor
from nodekeeper.core.logs.context import in_this_context
from nodekeeper.core.logs.files import LogsSettings
from nodekeeper.core.logs.policy import archive_name, bytes_before_rotation, format_marker
from nodekeeper.core.logs.standby import Pipe, Standby

BUFFER_BYTES = 64 * 1024 * 1024
BATCH_BYTES = 1024 * 1024
RETRY_INTERVAL = 0.1
STALL_TIMEOUT = 0.5

Publish = Callable[[str, Mapping[str, Any]], object]

# Not inherited by the node; binary on Windows.
_EXTRA_OPEN_FLAGS = getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)

_REASONS = {
    getattr(errno, name): reason
    for name, reason in (
        ("ENOSPC", "disk full"),
        ("EDQUOT", "disk quota exceeded"),  # not on every OS
        ("EROFS", "read-only filesystem"),
        ("EIO", "I/O error"),
    )
    if hasattr(errno, name)
}


def reason_for(exc: OSError) -> str:
    if exc.errno in _REASONS:
        return _REASONS[exc.errno]
    return (exc.strerror or type(exc).__name__).lower()


class _PartialWrite(Exception):
    def __init__(self, reason: str, kept: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kept = kept


class _WriteFailed(Exception):
    def __init__(self, reason: str, dropped: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.dropped = dropped


class LogWriter:
    """Appends whole-line chunks to ``<dir>/<prefix>.log`` with rotation and drop accounting."""

    def __init__(
        self,
        settings: LogsSettings,
        instance: str,
        prefix: str,
        *,
        publish: Publish | None = None,
        compressor: Compressor | None = None,
        buffer_bytes: int = BUFFER_BYTES,
        retry_interval: float = RETRY_INTERVAL,
        stall_timeout: float = STALL_TIMEOUT,
        clock: Callable[[], float] = time.time,
        count_lines: bool = True,
        standby: Standby | None = None,
    ) -> None:
        self._settings = settings
        self._dir = Path(settings.dir)
        self._instance = instance
        self._prefix = prefix
        self._path = files.current_path(self._dir, prefix)
        self._publish = publish
        self._compressor = compressor
        self._buffer_bytes = buffer_bytes
        self._retry_interval = retry_interval
        self._stall_timeout = stall_timeout
        self._clock = clock

        self._cond = threading.Condition()
        self._queue: deque[bytes] = deque()
        self._queued = 0
        self._writing = False
        self._batch_since: float | None = None  # monotonic start of the batch being written
        self._closing = False
        # Drop accounting (under _cond): the open episode and the running total.
        self._episode_lines = 0
        self._episode_reasons: list[str] = []
        self._dropped_total = 0
        # Node lines written so far; only the writer thread adds to it (metrics read it).
        # Counting scans every byte under the GIL (a tenth of a second per 300 MB),
        # so it is done only when something reads the figure.
        self.written_lines = 0
        self._count_lines = count_lines
        # With a standby (Linux) pipe readers may write themselves (begin_inline), and the
        # writer thread waits in the standby's epoll rather than on _cond.
        self._standby = standby
        self._idle = False  # the writer thread waits in the standby (under _cond)
        self._running = False  # the writer thread is in its loop (cheaper than is_alive())

        self._fd: int | None = None
        self._size = 0
        self._retry_at = 0.0
        self._thread = threading.Thread(
            target=in_this_context(self._run), name=f"log-writer-{prefix}", daemon=True
        )

    # -- producer side (any thread, never blocks) ---------------------------------

    def put(self, chunk: bytes) -> bool:
        """Queue whole lines (``chunk`` ends in b"\\n"); False if they had to be dropped.

        When the buffer is full this waits only while the disk keeps up: a
        disk that is merely slower than the node slows the node to its pace
        (no line lost), but once one batch has been stuck for
        ``stall_timeout`` (a hung disk) or writing fails, lines are dropped
        at once instead of waiting.
        """
        if not chunk:
            return True
        with self._cond:
            while self._queued and self._queued + len(chunk) > self._buffer_bytes:
                if not self._writing and threading.current_thread() is self._thread:
                    # The writer thread reading for a busy pipe reader: it makes room itself.
                    self._write_next_batch()
                    continue
                reason = self._why_not_wait()
                if reason is not None:
                    self._count_drop(chunk.count(b"\n"), reason)
                    return False
                self._cond.wait(0.05)
            if self._closing:
                self._count_drop(chunk.count(b"\n"), "buffer full")
                return False
            self._queue.append(chunk)
            self._queued += len(chunk)
            self._cond.notify_all()
            if self._idle and self._standby is not None:
                self._standby.wake()
        return True

    def begin_inline(self, pipe: Pipe) -> bool:
        """May the reader of ``pipe`` write its lines itself, now? (Only with a standby.)

        Yes when nothing is queued or being written: the writer thread then
        sleeps on, and the pipe is armed in the standby in case the write hangs.
        The caller then calls :meth:`write_inline` and, in any case, :meth:`end_inline`.
        """
        if self._standby is None:
            return False
        with self._cond:
            if self._queue or self._writing or self._closing or not self._running:
                return False
            self._writing = True
            self._batch_since = pipe.armed_at = time.monotonic()
            pipe.armed = True
            self._standby.arm(pipe)
        return True

    def write_inline(self, data: bytes) -> None:
        """Write whole lines in the reader's thread, between begin_inline and end_inline."""
        fd, start = self._fd, self._size
        if fd is None or self._episode_lines or start + len(data) >= self._settings.max_file_size:
            self._write_batch(data)  # opening, a drop to mark, or a rotation: the careful path
            return
        # A quiet node's line, the common case: one write and nothing else.
        try:
            done = os.write(fd, data)
        except OSError:
            done = 0  # nothing written; the careful path tries again and accounts for it
        if done == len(data):
            self._size = start + done
            if self._count_lines:
                self.written_lines += data.count(b"\n")
            return
        if done:  # short write: undo it, or carry on from where it stopped
            try:
                os.ftruncate(fd, start)
            except OSError:
                self._size = start + done
                data = data[done:]
        self._write_batch(data)

    def end_inline(self, pipe: Pipe) -> None:
        assert self._standby is not None
        self._standby.disarm(pipe)
        with self._cond:
            pipe.armed = False
            self._batch_since = None
            self._writing = False
            self._cond.notify_all()
            if self._queue and self._idle:
                self._standby.wake()

    def wait_inline(self, pipe: Pipe, timeout: float) -> bool:
        """Wait up to ``timeout`` for the reader of ``pipe`` to finish its write; True if it did."""
        with self._cond:
            return self._cond.wait_for(lambda: not pipe.armed, timeout)

    def _why_not_wait(self) -> str | None:
        """Why a producer facing a full buffer must drop now (None: wait for the writer)."""
        # caller holds _cond
        if self._closing or not self._thread.is_alive():
            return "buffer full"
        since = self._batch_since
        if since is not None and time.monotonic() - since > self._stall_timeout:
            return "disk not responding"
        if self._episode_lines > 0:
            return "buffer full"  # writes are failing: waiting would not help
        return None

    def backlog(self) -> int:
        """Bytes queued and not yet written."""
        return self._queued

    @property
    def dropped_lines(self) -> int:
        with self._cond:
            return self._dropped_total

    @property
    def path(self) -> Path:
        return self._path

    def start(self) -> None:
        self._thread.start()

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued so far is written (or dropped)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._writing, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then stop; never waits longer than ``timeout``."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            if self._standby is not None:
                self._standby.wake()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # -- writer thread ------------------------------------------------------------

    def _count_drop(self, lines: int, reason: str) -> None:
        # caller holds _cond
        self._episode_lines += lines
        self._dropped_total += lines
        if reason not in self._episode_reasons:
            self._episode_reasons.append(reason)

    def _run(self) -> None:
        self._running = True
        try:
            self._loop()
        finally:
            self._running = False

    def _loop(self) -> None:
        try:
            self._ensure_open()  # at once: also closes off a line cut by a crash
        except _WriteFailed:
            pass  # retried with the first lines to write
        standby = self._standby
        while True:
            with self._cond:
                if standby is None:
                    while not self._queue and not self._closing:
                        self._cond.wait()
                elif not self._queue or self._writing:
                    if self._closing and not self._queue:
                        if not self._writing:
                            break
                        self._cond.wait()  # a reader's own write: end_inline wakes us
                        continue
                    self._idle = True
                if not self._idle:
                    if not self._queue:
                        break
                    self._write_next_batch()
                    continue
            assert standby is not None
            for pipe in standby.wait():
                pipe.rescue(pipe)
            with self._cond:
                self._idle = False
        self._close_fd()
        if standby is not None:
            with self._cond:
                standby.close()

    def _write_next_batch(self) -> None:
        """Take up to BATCH_BYTES off the queue and write it (caller holds _cond;
        it is released during the write)."""
        batch: list[bytes] = []
        taken = 0
        while self._queue and taken < BATCH_BYTES:
            chunk = self._queue.popleft()
            batch.append(chunk)
            taken += len(chunk)
        self._queued -= taken
        self._writing = True
        self._batch_since = time.monotonic()
        self._cond.release()
        try:
            self._write_batch(batch[0] if len(batch) == 1 else b"".join(batch))
        finally:
            self._cond.acquire()
            self._batch_since = None
            self._writing = False
            self._cond.notify_all()

    def _write_batch(self, data: bytes) -> None:
        now = self._clock()
        with self._cond:
            in_episode = self._episode_lines > 0
            reasons = list(self._episode_reasons)
        if in_episode and self._fd is None and now < self._retry_at:
            with self._cond:
                self._count_drop(data.count(b"\n"), reasons[0] if reasons else "write failed")
            return
        try:
            try:
                self._ensure_open()
                if in_episode:
                    self._write_marker(now)
            except _WriteFailed as failure:
                raise _WriteFailed(failure.reason, data.count(b"\n")) from None
            self._write_lines(data)
            if self._count_lines:
                self.written_lines += data.count(b"\n")
        except _WriteFailed as failure:
            with self._cond:
                first = self._episode_lines == 0
                self._count_drop(failure.dropped, failure.reason)
            self._close_fd()
            self._retry_at = self._clock() + self._retry_interval
            if first and failure.reason in ("disk full", "disk quota exceeded"):
                self._emit("disk-low", {"dir": str(self._dir), "reason": failure.reason})

    def _write_marker(self, now: float) -> None:
        with self._cond:
            lines = self._episode_lines
            reasons = list(self._episode_reasons)
        if lines == 0:
            return
        self._write_lines(format_marker(now, lines, reasons))
        with self._cond:
            # Lines dropped while the marker was written start the next episode.
            self._episode_lines -= lines
            if self._episode_lines == 0:
                self._episode_reasons = []
        self._emit("logs-dropped", {"lines": lines, "reason": ", ".join(reasons)})

    def _emit(self, kind: str, data: Mapping[str, Any]) -> None:
        if self._publish is not None:
            try:
                self._publish(kind, data)
            except Exception:
                pass  # a broken subscriber must not stop the log

    def _ensure_open(self) -> None:
        if self._fd is not None:
            return
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(
                self._path, os.O_RDWR | os.O_CREAT | os.O_APPEND | _EXTRA_OPEN_FLAGS, 0o640
            )
        except OSError as exc:
            raise _WriteFailed(reason_for(exc), 0) from None
        size = os.fstat(fd).st_size
        if size > 0 and not _ends_with_newline(fd, size):
            # A previous run died mid-line (or the disk cut it): close that line off.
            try:
                os.write(fd, b"\n")
                size += 1
            except OSError as exc:
                os.close(fd)
                raise _WriteFailed(reason_for(exc), 0) from None
        self._fd = fd
        self._size = size

    def _close_fd(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None

    def _write_lines(self, data: bytes) -> None:
        """Append whole lines, rotating on line boundaries.

        Raises _WriteFailed carrying the exact number of lines of ``data``
        that did not reach the file.
        """
        view = memoryview(data)
        offset = 0
        try:
            while offset < len(data):
                rest = data if offset == 0 else data[offset:]
                n = bytes_before_rotation(rest, self._size, self._settings.max_file_size)
                if n == 0:
                    self._rotate()
                    continue
                try:
                    self._append(view[offset : offset + n])
                except _PartialWrite as partial:
                    offset += partial.kept
                    raise _WriteFailed(partial.reason, 0) from None
                offset += n
                if offset < len(data) or self._size >= self._settings.max_file_size:
                    self._rotate()
        except _WriteFailed as failure:
            raise _WriteFailed(failure.reason, data.count(b"\n", offset)) from None

    def _append(self, piece: memoryview) -> None:
        assert self._fd is not None
        start = self._size
        done = 0
        while done < len(piece):
            try:
                done += os.write(self._fd, piece[done:])
            except OSError as exc:
                kept = self._undo_partial(piece, start, done)
                raise _PartialWrite(reason_for(exc), kept) from None
        self._size = start + done

    def _undo_partial(self, piece: memoryview, start: int, done: int) -> int:
        """Keep only the whole lines of a write that failed half-way; returns bytes kept."""
        keep = bytes(piece[:done]).rfind(b"\n") + 1 if done else 0
        self._size = start + keep
        if keep == done or self._fd is None:
            return keep
        try:
            os.ftruncate(self._fd, start + keep)
        except OSError:
            # The fragment stays; _ensure_open closes it off with a newline later.
            self._size = start + done
        return keep

    def _rotate(self) -> None:
        if self._size == 0:
            return
        self._close_fd()
        now = self._clock()
        try:
            name = archive_name(self._prefix, now, os.listdir(self._dir))
            archive = self._dir / name
            os.rename(self._path, archive)
        except OSError as exc:
            raise _WriteFailed(reason_for(exc), 0) from None
        self._ensure_open()
        if self._compressor is not None and self._settings.compress:
            self._compressor.submit(archive)
        try:
            files.prune(self._dir, self._instance, self._settings, now)
        except OSError:
            pass  # retried after the next rotation


def _ends_with_newline(fd: int, size: int) -> bool:
    try:
        if sys.platform != "win32":  # no os.pread there
            return os.pread(fd, 1, size - 1) == b"\n"
        os.lseek(fd, size - 1, os.SEEK_SET)  # O_APPEND still appends at the end
        return os.read(fd, 1) == b"\n"
    except OSError:
        return True
