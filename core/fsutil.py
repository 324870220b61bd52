"""Durable file-system steps shared by every part that writes state to disk."""

from __future__ import annotations

import os
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
