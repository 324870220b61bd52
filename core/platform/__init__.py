"""Platform seam: per-OS process control (see ``base.py``)."""

from __future__ import annotations

import sys

from nodekeeper.core.platform.base import (
    DataDirLock,
    Platform,
    ProcessIdentity,
    ProcessStatus,
    SpawnRequest,
)

__all__ = [
    "DataDirLock",
    "Platform",
    "ProcessIdentity",
    "ProcessStatus",
    "SpawnRequest",
    "current_platform",
]


def current_platform() -> Platform:
    # if/else rather than an early return, so that mypy --platform skips the
    # branch of the other OS, as Python does.
    if sys.platform == "win32":
        from nodekeeper.core.platform.windows import WindowsPlatform

        return WindowsPlatform()
    else:
        from nodekeeper.core.platform.posix import PosixPlatform

        return PosixPlatform()
