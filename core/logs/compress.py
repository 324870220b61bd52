"""Background gzip of rotated log files, and recovery of interrupted ones.

An archive ``X.log`` is compressed to ``X.log.gz.tmp``, fsync'd, read back
and checked (length and CRC of the decompressed data equal the original),
then renamed to ``X.log.gz``; only after that is ``X.log`` deleted. A crash
at any instant leaves either the complete ``.log`` or the complete ``.gz``
(or both, for a moment), never a half-written ``.gz``. :func:`recover` runs
on start: it removes ``.gz.tmp`` leftovers, drops a ``.log`` whose ``.gz``
is already in place, and returns the archives still to compress.

This never runs on the capture path: the writer only queues a path.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from nodekeeper.core.fsutil import fsync_dir
from nodekeeper.core.logs import deflate
from nodekeeper.core.logs.context import in_this_context
from nodekeeper.core.logs.policy import ArchiveKey, parse_archive

_log = logging.getLogger(__name__)

# Level 1: a third of level 6's CPU for logs, whose repeated text compresses
# well at any level (measured: within 2 % of level 6's size on numbered lines).
COMPRESS_LEVEL = 1
_BLOCK = 1024 * 1024
_INFLATE_CHUNK = 256 * 1024
_RETRY_AFTER = 10.0
_YIELD = 0.01


class CompressionFailed(Exception):
    pass


def gz_path(path: Path) -> Path:
    return path.with_name(path.name + ".gz")


def tmp_path(path: Path) -> Path:
    return path.with_name(path.name + ".gz.tmp")


def compress_file(
    path: Path,
    stop: threading.Event | None = None,
    busy: Callable[[], bool] | None = None,
) -> Path:
    """Compress one archive in place of itself; returns the ``.gz`` path.

    Raises OSError for I/O trouble (the ``.log`` is kept) and
    CompressionFailed when the result does not read back identical. While
    ``busy()`` is true (the capture has a backlog) compression pauses: lines
    of the node come first, archives can wait.
    """
    tmp = tmp_path(path)
    final = gz_path(path)
    try:
        size = _deflate(path, tmp, stop, busy)
        _verify(tmp, size)
        if not path.exists():
            raise FileNotFoundError(path)  # pruned meanwhile: do not resurrect it
        os.rename(tmp, final)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(path.parent, strict=False)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    return final


def _deflate(
    src_path: Path,
    tmp: Path,
    stop: threading.Event | None,
    busy: Callable[[], bool] | None,
) -> int:
    """Gzip ``src_path`` to ``tmp``; returns the bytes read.

    The gzip trailer carries the CRC-32 and length of exactly the bytes fed
    to the compressor, which is what :func:`_verify` checks the read-back
    against: no second CRC pass over the source is needed.
    """
    compressor = deflate.gzip_compressor(COMPRESS_LEVEL)
    size = 0
    with open(src_path, "rb") as src, open(tmp, "wb") as dst:
        while True:
            while busy is not None and busy():
                if stop is not None and stop.wait(_YIELD):
                    break
                if stop is None:
                    time.sleep(_YIELD)
            if stop is not None and stop.is_set():
                raise CompressionFailed("stopped")
            block = src.read(_BLOCK)
            if not block:
                break
            size += len(block)
            dst.write(compressor.compress(block))
        dst.write(compressor.flush())
        dst.flush()
        os.fsync(dst.fileno())
    return size


def _verify(tmp: Path, size: int) -> None:
    """Read the archive back: it must inflate to ``size`` bytes with a matching CRC.

    The inflater compares the CRC-32 and length in the gzip trailer (those of
    the original bytes) with the inflated data and fails on any difference.
    """
    decompressor = deflate.gzip_decompressor()
    seen = 0
    try:
        with open(tmp, "rb") as f:
            while True:
                block = f.read(_BLOCK)
                if not block:
                    break
                # Inflate in bounded pieces: a megabyte of well-compressed log
                # would otherwise become one object of tens of megabytes.
                while block:
                    seen += len(decompressor.decompress(block, _INFLATE_CHUNK))
                    block = decompressor.unconsumed_tail
        seen += len(decompressor.flush())
    except deflate.errors():
        raise CompressionFailed(f"{tmp.name} does not read back as the original") from None
    if not decompressor.eof or decompressor.unused_data or seen != size:
        raise CompressionFailed(f"{tmp.name} does not read back as the original")


def recover(directory: Path, prefix: str) -> list[Path]:
    """Clean up after an interrupted compression; return archives still to compress."""
    try:
        names = set(os.listdir(directory))
    except OSError:
        return []  # missing or unreadable: the writer reports what it cannot write
    pending: list[tuple[ArchiveKey, Path]] = []
    for name in names:
        parsed = parse_archive(prefix, name)
        if parsed is None:
            continue
        key, suffix = parsed
        path = directory / name
        try:
            if suffix == ".gz.tmp":
                os.unlink(path)
            elif suffix == "" and name + ".gz" in names:
                os.unlink(path)  # the .gz was renamed into place, only the delete was missed
            elif suffix == "":
                pending.append((key, path))
        except OSError:
            continue  # read-only or failing disk: tried again at the next start
    pending.sort(key=lambda item: item[0])
    return [path for _, path in pending]


class Compressor:
    """Background threads that compress archives, taking them in the order they were queued.

    ``workers`` > 1 compresses several archives at once: both engines release the GIL
    while it deflates, so after a burst of rotations the archives are done
    in a fraction of the time one thread would need.
    """

    def __init__(
        self,
        on_done: Callable[[], None] | None = None,
        busy: Callable[[], bool] | None = None,
        workers: int = 1,
    ) -> None:
        self._on_done = on_done
        self._busy_check = busy
        self._lock = threading.Condition()
        self._queue: list[Path] = []
        self._failed: list[Path] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(
                target=in_this_context(self._run), name=f"log-compressor-{i}", daemon=True
            )
            for i in range(max(1, workers))
        ]
        self._running = 0  # archives being compressed right now
        self._retry_at = 0.0  # monotonic time at which failed archives are tried again

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def submit(self, path: Path) -> None:
        with self._lock:
            self._queue.append(path)
            self._lock.notify()

    def idle(self) -> bool:
        with self._lock:
            return not self._queue and not self._running

    def wait_idle(self, timeout: float) -> bool:
        """True once nothing is queued or running (failed ones wait for a retry)."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._queue and not self._running, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Stop after the current files; unfinished work is picked up by the next start."""
        deadline = time.monotonic() + timeout
        self._stop.set()
        with self._lock:
            self._lock.notify_all()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))

    def _run(self) -> None:
        _lower_thread_priority()
        while not self._stop.is_set():
            with self._lock:
                if not self._queue:
                    # Sleep until work is submitted; wake on a timer only
                    # when a failed archive waits for its retry.
                    wait = None
                    if self._failed:
                        wait = max(0.0, self._retry_at - time.monotonic())
                    self._lock.wait(wait)
                    if not self._queue and self._failed and time.monotonic() >= self._retry_at:
                        self._queue.extend(self._failed)
                        self._failed.clear()
                if not self._queue or self._stop.is_set():
                    continue
                path = self._queue.pop(0)
                self._running += 1
            try:
                self._compress_one(path)
            finally:
                with self._lock:
                    self._running -= 1
                    self._lock.notify_all()

    def _compress_one(self, path: Path) -> None:
        try:
            compress_file(path, self._stop, self._busy_check)
        except FileNotFoundError:
            return  # pruned before it was compressed
        except CompressionFailed as exc:
            if self._stop.is_set():
                return
            _log.warning("log compression failed, will retry: %s", exc)
            self._retry_later(path)
            return
        except OSError as exc:
            _log.warning("log compression of %s failed, will retry: %s", path.name, exc.strerror)
            self._retry_later(path)
            return
        if self._on_done is not None:
            self._on_done()

    def _retry_later(self, path: Path) -> None:
        with self._lock:
            self._failed.append(path)
            self._retry_at = time.monotonic() + _RETRY_AFTER


def _lower_thread_priority() -> None:
    """Compression yields the CPU to the node and to capture (Linux: per-thread nice)."""
    if sys.platform.startswith("linux"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except OSError:
            pass
