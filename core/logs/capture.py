"""LogCapture: the node's stdout and stderr into rotated, compressed files.

For each node run the supervisor asks :meth:`LogCapture.open_stdio` for two
fresh pipes and hands their write ends to the child. One reader thread per
pipe reads large blocks and passes whole-line chunks to the single
:class:`~nodekeeper.core.logs.writer.LogWriter`; the node never waits on the disk
because the writer's buffer is bounded and drops (counted) instead of
blocking. On Linux a reader that finds the writer idle writes the lines
itself, which halves the thread wake-ups of a quiet node; the writer thread
stands by to read the pipe should that write hang (:mod:`.standby`).
Readers stop at EOF, i.e. when the node and every process that
inherited the pipe are gone, and then write a final partial line.

On Linux the node also keeps a copy of each pipe's read end (see
:class:`NodePipes`), so its output survives the core: a core that takes the
node over, after a self-update or a crash, opens the same pipes again
through ``/proc`` (:meth:`LogCapture.adopt_pipes`). Before a planned
hand-over :meth:`LogCapture.detach` stops every reader between two reads,
writes what they read, and returns the partial lines they held, so that no
line is lost or written twice.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nodekeeper.core.config import LogsConfig
from nodekeeper.core.events import EventBus
from nodekeeper.core.logs import files
from nodekeeper.core.logs.compress import Compressor, recover
from nodekeeper.core.logs.context import in_this_context
from nodekeeper.core.logs.follow import tail_lines
from nodekeeper.core.logs.lines import LineSplitter
from nodekeeper.core.logs.standby import RESCUE_AFTER, Pipe, new_standby
from nodekeeper.core.logs.writer import LogWriter
from nodekeeper.core.platform.pipes import NodePipes

READ_SIZE = 1024 * 1024
FIRST_READ_SIZE = 64 * 1024
PIPE_SIZE = 1024 * 1024
MAX_TAIL_LINES = 10_000
# Compression waits only while the writer is really behind (a quarter of its buffer).
# It no longer waits out a flood: with the compressor threads niced and the gzip
# engine releasing the GIL, compressing the finished archives while the next ones fill
# brings the moment every line is on disk and compressed forward (scripts/bench logs).
BACKLOG_PAUSES_COMPRESSION = 16 * 1024 * 1024
# Archives compressed at once: one per core, at most two, so a flood's archives
# are done soon after its last line without crowding the node.
COMPRESS_WORKERS = max(1, min(2, os.cpu_count() or 1))
STREAMS = ("stdout", "stderr")
# Reads up to this size are written by the reader itself when the writer is idle (Linux):
# a quiet node's lines. Larger ones, a flood, go to the writer thread, so that reading
# and writing run side by side.
INLINE_MAX = 16 * 1024


@dataclass(frozen=True)
class HeldPipe:
    """A pipe whose reader stopped for a hand-over: its identity and the partial line held."""

    stream: str
    inode: int
    partial: bytes


class LogCapture:
    def __init__(
        self, settings: LogsConfig, instance: str, bus: EventBus, *, count_lines: bool = True
    ) -> None:
        self._settings = settings
        self._instance = instance
        self._bus = bus
        self._dir = Path(settings.dir)
        self._prefix = files.node_prefix(instance)
        self._compressor = Compressor(
            on_done=self._prune, busy=self._backlogged, workers=COMPRESS_WORKERS
        )
        # Linux: readers write a quiet node's lines themselves (core/logs/standby.py).
        self._standby = new_standby()
        self._writer = LogWriter(
            settings,
            instance,
            self._prefix,
            publish=self._publish,
            compressor=self._compressor,
            count_lines=count_lines,
            standby=self._standby,
        )
        self._readers: list[threading.Thread] = []
        # Readers stop between two reads when this pipe becomes readable (POSIX).
        self._wake_r, self._wake_w = _wake_pipe()
        self._detaching = False
        self._held: list[HeldPipe] = []
        self._total_bytes = files.TotalBytes(self._dir, instance)
        # Bytes read from the node so far (readers add to it; a lost update only
        # blurs the figure, which nothing decides on).
        self._read_bytes = 0
        self._lock = threading.Lock()
        self._started = False

    def start(self) -> None:
        """Finish or clean up interrupted compressions, then start the threads."""
        if self._started:
            return
        self._started = True
        with contextlib.suppress(OSError):
            self._dir.mkdir(parents=True, exist_ok=True)
        pending = recover(self._dir, self._prefix)
        self._compressor.start()
        if self._settings.compress:
            for path in pending:
                self._compressor.submit(path)
        self._writer.start()
        self._prune()

    def open_stdio(self) -> tuple[int, int]:
        """Fresh pipes for one node run; returns the write ends (stdout, stderr)."""
        pipes = self.open_pipes()
        return pipes.stdout_w, pipes.stderr_w

    def open_pipes(self) -> NodePipes:
        """Fresh pipes for one node run, their readers started."""
        if not self._started:
            self.start()
        write_ends: list[int] = []
        read_ends: list[int] = []
        try:
            for _stream in STREAMS:
                read_fd, write_fd = os.pipe()
                read_ends.append(read_fd)
                write_ends.append(write_fd)
        except OSError:
            for fd in read_ends + write_ends:
                os.close(fd)
            raise
        inodes = tuple(os.fstat(fd).st_ino for fd in read_ends)
        for stream, read_fd in zip(STREAMS, read_ends, strict=True):
            _enlarge_pipe(read_fd)
            self._start_reader(stream, read_fd, b"")
        return NodePipes(
            write_ends[0], write_ends[1], (read_ends[0], read_ends[1]), (inodes[0], inodes[1])
        )

    def adopt_pipes(self, pipes: Sequence[tuple[str, int, bytes]]) -> None:
        """Read pipes a previous core read: (stream, read fd, partial line it held)."""
        if not self._started:
            self.start()
        for stream, fd, partial in pipes:
            self._start_reader(stream, fd, partial)

    def detach(self, timeout: float = 5.0) -> list[HeldPipe] | None:
        """Stop every reader between two reads and write what they read (for a hand-over).

        Returns the partial lines held, or None when a reader did not stop in time
        (the capture then keeps going as before) or this platform cannot stop them.
        """
        if self._wake_w is None:
            return None
        self._detaching = True
        os.write(self._wake_w, b"x")
        if not self.wait_readers(timeout) or not self._writer.flush(timeout):
            self._resume()
            return None
        held, self._held = self._held, []
        self._resume()
        return held

    def _resume(self) -> None:
        """Readers started from now on read until EOF again."""
        self._detaching = False
        if self._wake_r is not None:
            with contextlib.suppress(OSError):
                os.read(self._wake_r, 64)

    def _start_reader(self, stream: str, fd: int, partial: bytes) -> None:
        thread = threading.Thread(
            target=in_this_context(self._read_until_eof),
            args=(fd, stream, partial),
            name=f"log-reader-{stream}",
            daemon=True,
        )
        with self._lock:
            self._readers = [t for t in self._readers if t.is_alive()]
            self._readers.append(thread)
        thread.start()

    @property
    def written_lines(self) -> int:
        """Node log lines written so far (for metrics; not in the status object).

        Always 0 when made with ``count_lines=False`` (no metrics endpoint).
        """
        return self._writer.written_lines

    def status(self) -> dict[str, object]:
        return {
            "dir": str(self._dir),
            "bytes": self._total_bytes(),
            "dropped_lines": self._writer.dropped_lines,
        }

    def reconfigure(self, settings: LogsConfig) -> None:
        """Reloaded rotation, pruning and compression settings (same ``dir``), from the next
        write on: the writer reads them at each use, and one attribute store is atomic."""
        self._settings = self._writer._settings = settings

    def tail(self, lines: int) -> list[str]:
        """The last ``lines`` lines of the node log (written so far), at most 10,000."""
        self._writer.flush(0.5)
        return tail_lines(self._dir, self._prefix, min(lines, MAX_TAIL_LINES))

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every line read so far is written; for tests and shutdown."""
        return self._writer.flush(timeout)

    def wait_readers(self, timeout: float) -> bool:
        """Wait until the pipes of every node run so far reached EOF."""
        deadline = time.monotonic() + timeout
        with self._lock:
            readers = list(self._readers)
        for thread in readers:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in readers)

    def close(self, timeout: float = 5.0) -> None:
        """Drain, flush and stop; returns within ``timeout`` whatever the disk does."""
        deadline = time.monotonic() + timeout
        self.wait_readers(timeout * 0.4)
        self._writer.close(max(0.0, deadline - time.monotonic() - 0.1))
        self._compressor.close(max(0.0, deadline - time.monotonic()))

    # -- internals ------------------------------------------------------------------

    def _read_until_eof(self, fd: int, stream: str = "stdout", partial: bytes = b"") -> None:
        splitter = LineSplitter()
        put = self._writer.put
        for chunk in splitter.feed(partial):
            put(chunk)
        waiter = _waiter(fd, self._wake_r)
        pipe = None
        if self._standby is not None and sys.platform != "win32":
            # Non-blocking: the writer thread may have read what poll announced.
            os.set_blocking(fd, False)
            pipe = Pipe(fd, lambda armed: self._rescue(armed, splitter))
        held = pipe.lock if pipe is not None else contextlib.nullcontext()
        # One buffer for the life of the pipe (os.read would allocate, and the
        # allocator map and unmap, READ_SIZE bytes for every line of a quiet
        # node), small while the node is quiet, grown when a read fills it.
        buffer = bytearray(FIRST_READ_SIZE)
        try:
            while True:
                if waiter is not None:
                    _wait_readable(waiter)
                if self._detaching:  # between two reads: the rest stays in the pipe
                    with held:
                        self._hold(fd, stream, splitter)
                    return
                inline = None
                with held:
                    try:
                        data = _read_into(fd, buffer)
                    except (InterruptedError, BlockingIOError):
                        continue
                    except OSError:
                        break
                    if not data:
                        break
                    if len(data) == len(buffer) < READ_SIZE:
                        buffer = bytearray(min(2 * len(buffer), READ_SIZE))
                    self._read_bytes += len(data)
                    chunks = splitter.feed(data)
                    if (
                        pipe is not None
                        and chunks
                        and len(data) <= INLINE_MAX
                        and self._writer.begin_inline(pipe)
                    ):
                        inline = chunks  # the writer is idle: one thread wake-up per line
                    else:
                        for chunk in chunks:
                            put(chunk)
                if inline is not None:
                    assert pipe is not None
                    try:
                        self._writer.write_inline(
                            inline[0] if len(inline) == 1 else b"".join(inline)
                        )
                    finally:
                        self._writer.end_inline(pipe)
            with held:
                for chunk in splitter.finish():
                    put(chunk)
        finally:
            os.close(fd)

    def _rescue(self, pipe: Pipe, splitter: LineSplitter) -> None:
        """Writer thread: the node wrote more while this pipe's reader is writing to disk.

        A write that ends within RESCUE_AFTER leaves the reading to the reader;
        a longer one (a slow or hung disk) must not make the node wait on a
        full pipe, so the writer thread reads for the reader until it is back.
        """
        wait = pipe.armed_at + RESCUE_AFTER - time.monotonic()
        if self._writer.wait_inline(pipe, max(0.0, wait)):
            return
        with pipe.lock:
            while pipe.armed:
                try:
                    data = os.read(pipe.fd, READ_SIZE)
                except InterruptedError:
                    continue
                except BlockingIOError:
                    break
                except OSError:
                    return
                if not data:
                    return  # EOF: its reader ends the pipe once its write is done
                self._read_bytes += len(data)
                for chunk in splitter.feed(data):
                    self._writer.put(chunk)
        if pipe.armed and self._standby is not None:  # its reader is still writing
            self._standby.rearm(pipe)

    def _hold(self, fd: int, stream: str, splitter: LineSplitter) -> None:
        with self._lock:
            self._held.append(HeldPipe(stream, os.fstat(fd).st_ino, splitter.hand_over()))

    def _backlogged(self) -> bool:
        """Compression waits while the writer is behind: lines of the node come first."""
        return self._writer.backlog() > BACKLOG_PAUSES_COMPRESSION

    def _publish(self, kind: str, data: Mapping[str, Any]) -> object:
        return self._bus.publish(kind, data)

    def _prune(self) -> None:
        with contextlib.suppress(OSError):
            files.prune(self._dir, self._instance, self._settings, time.time())


def _enlarge_pipe(fd: int) -> None:
    """A larger pipe absorbs bursts while the reader is busy (Linux only)."""
    if sys.platform.startswith("linux"):
        import fcntl

        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)


def _wake_pipe() -> tuple[int | None, int | None]:
    """The pipe that stops the readers for a hand-over; none where pipes cannot be polled."""
    if sys.platform == "win32":
        return None, None
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    return read_fd, write_fd


def _waiter(fd: int, wake_fd: int | None) -> Any:
    """A poll object on the pipe and the wake-up pipe (POSIX), or None (Windows)."""
    if wake_fd is None or sys.platform == "win32":
        return None
    import select

    waiter = select.poll()
    waiter.register(fd, select.POLLIN)
    waiter.register(wake_fd, select.POLLIN)
    return waiter


def _wait_readable(waiter: Any) -> None:
    """Block until the pipe (data or EOF) or the wake-up pipe is readable."""
    while True:
        try:
            waiter.poll()
            return
        except InterruptedError:
            continue


def _read_into(fd: int, buffer: bytearray) -> bytes:
    if hasattr(os, "readv"):
        count = os.readv(fd, [buffer])
        return bytes(memoryview(buffer)[:count])  # one copy, not two
    return os.read(fd, len(buffer))  # Windows has no readv
