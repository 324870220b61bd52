"""Folders a root core must not share: the data dir and the logs dir.

Another user who can write in a folder where root writes state, pid files,
downloads or logs can plant links and files there (even with sticky bits,
when ``fs.protected_symlinks`` is off). A core running as root refuses to
start with such a folder rather than trust every write to be careful.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from nodekeeper.core.errors import ConfigError


def shared_folder_problem(mode: int, gid: int) -> str | None:
    """Why a folder with ``mode`` and group ``gid`` is writable by users other than root."""
    if mode & stat.S_IWOTH:
        return "writable by every user"
    if mode & stat.S_IWGRP and gid != 0:
        return f"writable by group {gid}"
    return None


def refuse_shared_folders(source: str, folders: Iterable[tuple[str, Path]]) -> None:
    """ConfigError (exit 2, one line) for a root core with a folder others can write in."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return
    for key, folder in folders:
        try:
            info = os.stat(folder)
        except OSError:
            continue  # created later by the core itself, with its own mode
        problem = shared_folder_problem(info.st_mode, info.st_gid)
        if problem is not None:
            mode = stat.S_IMODE(info.st_mode)
            raise ConfigError(
                f"{source}: {key}: {folder} is {problem} (mode {mode:04o}); a core running "
                f"as root refuses it: make it writable by root only (chmod go-w {folder})"
            )


def check_node_account(source: str, user: str | None, group: str | None, data_dir: Path) -> None:
    """``node.user``/``node.group`` need a root core; the node must reach its installed versions.

    The data dir (0750, root's) gets the search bit for others: the node's
    account can then reach ``versions/<v>/<binary>`` by name, but not list
    or read anything else there.
    """
    if user is None and group is None:
        return
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        key = "node.user" if user is not None else "node.group"
        raise ConfigError(
            f"{source}: {key}: only a core running as root can run the node as another account"
        )
    try:
        mode = stat.S_IMODE(os.stat(data_dir).st_mode)
        if not mode & stat.S_IXOTH:
            os.chmod(data_dir, mode | stat.S_IXOTH)
    except OSError as exc:
        raise ConfigError(
            f"{source}: paths.data_dir: cannot open {data_dir} to the node: {exc.strerror}"
        ) from None
