"""Finding the control sockets of every core on this machine, for the CLI and the tray.

Cores put their sockets in the default socket folders of
:mod:`nodekeeper.core.paths` (system-wide, then this user's): ``*.sock``
and ``*/*.sock`` on POSIX, named pipes ``nodekeeper-<instance>`` on
Windows. This module only lists folders; it never connects.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

PIPE_PREFIX = "\\\\.\\pipe\\"


@dataclass(frozen=True)
class FoundSocket:
    socket: str
    name: str  # the instance, as the socket's name tells it
    origin: str  # the folder it was found in


def socket_name(socket: str) -> str:
    name = Path(socket).name
    return name.removesuffix(".sock") or socket


def scan_pipes(names: Iterable[str], prefix: str = PIPE_PREFIX) -> list[FoundSocket]:
    """Windows: cores listen on named pipes ``nodekeeper-<instance>``."""
    return [
        FoundSocket(prefix + name, name.removeprefix("nodekeeper-"), prefix)
        for name in sorted(names)
        if name.startswith("nodekeeper-")
    ]


def scan_socket_dirs(dirs: Iterable[str]) -> list[FoundSocket]:
    found: list[FoundSocket] = []
    for folder in dirs:
        if sys.platform == "win32":
            try:
                found += scan_pipes(os.listdir(folder), folder)
            except OSError:
                pass
            continue
        base = Path(folder)
        if not base.is_dir():
            continue
        try:
            candidates = sorted([*base.glob("*.sock"), *base.glob("*/*.sock")])
        except OSError:
            continue
        found += [FoundSocket(str(p), socket_name(str(p)), folder) for p in candidates]
    return found


def default_socket_dirs() -> tuple[str, ...]:
    from nodekeeper.core.paths import socket_search_dirs

    return socket_search_dirs()


def socket_key(socket: str) -> str:
    """What makes two socket paths the same socket (symlinks resolved on POSIX)."""
    return str(Path(socket).resolve()) if sys.platform != "win32" else socket


def find_cores(socket_dirs: Sequence[str] | None = None) -> list[FoundSocket]:
    """Every core socket in the default folders (or ``socket_dirs``), each once."""
    dirs = default_socket_dirs() if socket_dirs is None else socket_dirs
    unique: dict[str, FoundSocket] = {}
    for found in scan_socket_dirs(dirs):
        unique.setdefault(socket_key(found.socket), found)
    return list(unique.values())
