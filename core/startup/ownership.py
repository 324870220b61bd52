"""Refuses to register a service whose program or config others could replace.

The service runs the core (as the ``nodekeeper`` user, or as root) at every
boot: whoever can write its executable or its config, or a folder above
either, can run code as that user. :func:`unsafe_writer` is the pure rule
over ``stat`` results; :func:`check_owned` gathers them (POSIX; Windows
protects Program Files by ACL and is not checked here).
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nodekeeper.core.startup.errors import ServiceUsageError


@dataclass(frozen=True)
class Entry:
    path: str
    uid: int
    gid: int
    mode: int


def unsafe_writer(chain: Iterable[Entry], uids: frozenset[int], gids: frozenset[int]) -> str | None:
    """Why someone else can change the last entry of ``chain`` (a file and its folders), or None.

    ``uids``/``gids``: who may write (root and the service user). A folder
    with the sticky bit (/tmp) lets others add names but not replace ours.
    """
    for entry in chain:
        if entry.uid not in uids:
            return f"{entry.path} belongs to uid {entry.uid}"
        sticky = stat.S_ISDIR(entry.mode) and entry.mode & stat.S_ISVTX
        if entry.mode & stat.S_IWOTH and not sticky:
            return f"{entry.path} is writable by every user"
        if entry.mode & stat.S_IWGRP and entry.gid not in gids and not sticky:
            return f"{entry.path} is writable by group {entry.gid}"
    return None


def service_ids(user: str) -> tuple[frozenset[int], frozenset[int]]:
    """Root's and (when it exists) the service user's uid and gid."""
    uids, gids = {0}, {0}
    if sys.platform == "win32":
        return frozenset(uids), frozenset(gids)
    import grp
    import pwd

    try:
        uids.add(pwd.getpwnam(user).pw_uid)
    except KeyError:
        pass
    try:
        gids.add(grp.getgrnam(user).gr_gid)
    except KeyError:
        pass
    return frozenset(uids), frozenset(gids)


def _chain(path: Path) -> list[Entry]:
    real = path.resolve()
    entries = []
    for part in (*reversed(real.parents), real):
        info = os.stat(part)
        entries.append(Entry(str(part), info.st_uid, info.st_gid, info.st_mode))
    return entries


def check_owned(what_and_paths: Sequence[tuple[str, str]], user: str) -> None:
    """Raise ServiceUsageError when another user could change one of the files."""
    if sys.platform == "win32":
        return
    uids, gids = service_ids(user)
    for what, path in what_and_paths:
        try:
            chain = _chain(Path(path))
        except OSError as exc:
            raise ServiceUsageError(
                f"cannot check the {what} {path}: {exc.strerror or exc}"
            ) from None
        reason = unsafe_writer(chain, uids, gids)
        if reason is not None:
            raise ServiceUsageError(
                f"refusing to install: the {what} {path} could be changed by others ({reason}); "
                f"make it and its folders writable only by root or {user}"
            )
