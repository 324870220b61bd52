"""Durable file-system steps shared by every part that writes state to disk."""

from __future__ import annotations

import os
import secrets
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


# Where the OS has them: never follow a symlink at the last component; binary on Windows.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)


def open_nofollow(path: Path, flags: int, mode: int = 0o666) -> int:
    """``os.open`` that fails (ELOOP) rather than go through a symlink at ``path``.

    For every file the core writes in a folder someone else could plant a
    link in; the mode is still reduced by the umask (descriptors from
    os.open are not inherited by children, PEP 446).
    """
    return os.open(path, flags | _NOFOLLOW | _BINARY, mode)


def write_atomic(path: Path, data: bytes | Path, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` (bytes, or a file's contents) all at once.

    Readers see the old or the new content, never a mix. ``durable``: the
    file and its folder are fsync'd, so the new content survives a power
    cut (skip it only for files that are rewritten constantly anyway).
    The temporary file is removed whatever fails.
    """
    # A random name, created exclusively: a file or symlink planted under a
    # predictable name (another user's, in a shared folder) is never written through.
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        fd = open_nofollow(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        with os.fdopen(fd, "wb") as handle:
            if isinstance(data, Path):
                with open(data, "rb") as source:
                    shutil.copyfileobj(source, handle, 1 << 20)
            else:
                handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        # rename() replaces a symlink at ``path`` itself, never its target.
        replace(temporary, path)
    except FileExistsError:
        raise
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)
