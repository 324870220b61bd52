"""Durable file-system steps shared by every part that writes state to disk."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path


def fsync_dir(path: Path, *, strict: bool = True) -> None:
    """fsync a folder, so that a rename or a new file in it survives a power cut.

    A no-op on Windows (NTFS journals renames; folders cannot be opened for
    fsync). ``strict=False`` ignores failures, for best-effort callers.
    """
    if os.name != "posix":
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        if strict:
            raise
        return
    try:
        os.fsync(fd)
    except OSError:
        if strict:
            raise
    finally:
        os.close(fd)


def replace(source: Path, target: Path) -> None:
    """``os.replace``, retried briefly on Windows, where a scanner or reader
    holding the target for a moment makes the rename fail."""
    for attempt in range(10):
        try:
            os.replace(source, target)
            return
        except PermissionError:
            if os.name != "nt" or attempt == 9:
                raise
            time.sleep(0.05 * (attempt + 1))


def write_atomic(path: Path, data: bytes | Path, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` (bytes, or a file's contents) all at once.

    Readers see the old or the new content, never a mix. ``durable``: the
    file and its folder are fsync'd, so the new content survives a power
    cut (skip it only for files that are rewritten constantly anyway).
    The temporary file is removed whatever fails.
    """
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        with open(temporary, "wb") as handle:
            if isinstance(data, Path):
                with open(data, "rb") as source:
                    shutil.copyfileobj(source, handle, 1 << 20)
            else:
                handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)
