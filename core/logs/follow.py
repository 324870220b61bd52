"""Reading logs back: the last N lines, and following across rotations.

Used by ``nodekeeper logs`` and the socket's ``logs_tail``. Only reads: it
never changes a log file, so it is safe while the core is writing.
Following works like ``tail -F``: when the current file is renamed away
(rotation), the rest of the old file is read to its end before the new one
is opened, so no line is skipped or shown twice.
"""

from __future__ import annotations

import gzip
import os
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from nodekeeper.core.logs.files import archives_oldest_first, current_path
from nodekeeper.core.logs.policy import ArchiveKey, parse_archive

_BLOCK = 64 * 1024


def _last_lines_of_bytes(data: bytes, count: int) -> list[bytes]:
    if count <= 0 or not data:
        return []
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines[-count:]


def _tail_of_open_file(f: BinaryIO, count: int, end: int) -> list[bytes]:
    """Last ``count`` lines before offset ``end``, reading backwards in blocks."""
    data = b""
    pos = end
    while pos > 0 and data.count(b"\n") <= count:
        step = min(_BLOCK, pos)
        pos -= step
        f.seek(pos)
        data = f.read(step) + data
    return _last_lines_of_bytes(data, count)


def _tail_with_archives(
    directory: Path, prefix: str, count: int, f: BinaryIO | None, end: int
) -> list[bytes]:
    collected = _tail_of_open_file(f, count, end) if f is not None else []
    if len(collected) < count:
        for archive in reversed(archives_oldest_first(directory, prefix)):
            try:
                older = _last_lines_of_bytes(_read_archive(archive), count - len(collected))
            except (OSError, EOFError, zlib.error):
                continue  # pruned or compressed meanwhile, or damaged: skip it
            collected = older + collected
            if len(collected) >= count:
                break
    return collected


def _read_archive(path: Path) -> bytes:
    if path.name.endswith(".gz"):
        with gzip.open(path, "rb") as f:
            return f.read()
    return path.read_bytes()


def tail_lines(directory: Path, prefix: str, count: int) -> list[str]:
    """The last ``count`` lines of a log family, reaching into archives if needed."""
    return [line.decode("utf-8", errors="replace") for line in tail_bytes(directory, prefix, count)]


def tail_bytes(directory: Path, prefix: str, count: int) -> list[bytes]:
    """Like :func:`tail_lines`, as raw bytes without the newlines."""
    if count <= 0:
        return []
    try:
        with open(current_path(directory, prefix), "rb") as f:
            end = os.fstat(f.fileno()).st_size
            collected = _tail_with_archives(directory, prefix, count, f, end)
    except FileNotFoundError:
        collected = _tail_with_archives(directory, prefix, count, None, 0)
    return collected


def _archive_keys(directory: Path, prefix: str) -> dict[ArchiveKey, list[Path]]:
    """Finished archives by rotation key; a key may briefly have both .log and .log.gz."""
    found: dict[ArchiveKey, list[Path]] = {}
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return found
    for name in names:
        parsed = parse_archive(prefix, name)
        if parsed is not None and parsed[1] != ".gz.tmp":
            found.setdefault(parsed[0], []).append(directory / name)
    return found


def _read_any(paths: list[Path]) -> bytes | None:
    """The content of one archive, whichever of its forms is still there."""
    for path in sorted(paths, key=lambda p: not p.name.endswith(".gz")) * 2:
        try:
            return _read_archive(path)
        except FileNotFoundError:
            continue
        except (OSError, EOFError, zlib.error):
            return None
    return None


def _open_current(directory: Path, prefix: str) -> tuple[BinaryIO, ArchiveKey | None] | None:
    """Open the current file together with the newest archive key older than it.

    The archive list is taken while the opened file is still the current one,
    so the file's own archive, once it is rotated, is the first key after it.
    """
    path = current_path(directory, prefix)
    while True:
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            return None
        keys = _archive_keys(directory, prefix)
        try:
            now = os.stat(path)
        except FileNotFoundError:
            now = None
        mine = os.fstat(f.fileno())
        if now is not None and (now.st_ino, now.st_dev) == (mine.st_ino, mine.st_dev):
            return f, max(keys, default=None)
        f.close()  # rotated while we looked: try again


def follow(
    directory: Path,
    prefix: str,
    write: Callable[[bytes], object],
    *,
    poll: float = 0.2,
    stop: threading.Event | None = None,
    lines: int = 10,
) -> None:
    """Write the last ``lines`` lines, then everything appended, until ``stop`` is set.

    When several rotations happen between two looks, the archives in between
    are read too, so nothing is skipped.
    """
    stop = stop or threading.Event()
    path = current_path(directory, prefix)
    f: BinaryIO | None = None
    before: ArchiveKey | None = None  # newest archive older than the followed file
    first = True
    try:
        while not stop.is_set():
            if f is None:
                opened = _open_current(directory, prefix)
                if opened is None:
                    if first:
                        for line in _tail_with_archives(directory, prefix, lines, None, 0):
                            write(line + b"\n")
                        first = False
                    stop.wait(poll)
                    continue
                f, newest = opened
                if first:
                    end = os.fstat(f.fileno()).st_size
                    for line in _tail_with_archives(directory, prefix, lines, f, end):
                        write(line + b"\n")
                    f.seek(end)
                    first = False
                elif before is not None or newest is not None:
                    # Archives after the one we followed and older than this file were
                    # rotated away before we saw them.
                    keys = _archive_keys(directory, prefix)
                    after = sorted(k for k in keys if (before is None or k > before))
                    for key in after[1:]:
                        if newest is not None and key > newest:
                            break
                        data = _read_any(keys[key])
                        if data:
                            write(data)
                before = newest
            data = f.read(_BLOCK)
            if data:
                write(data)
                continue
            try:
                now = os.stat(path)
            except FileNotFoundError:
                now = None
            mine = os.fstat(f.fileno())
            if now is None or (now.st_ino, now.st_dev) != (mine.st_ino, mine.st_dev):
                rest = f.read()  # the rotated file may have grown since the last read
                if rest:
                    write(rest)
                f.close()
                f = None  # the new current file is read from its start
            elif now.st_size < f.tell():
                f.seek(0)
            else:
                stop.wait(poll)
    finally:
        if f is not None:
            f.close()
