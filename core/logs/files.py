"""The log files of one instance on disk: listing, sizes and pruning.

An instance has two families of files in ``logs.dir``: the node's
(``<instance>.log`` and its archives) and the core's own
(``nodekeeper-<instance>.log`` and its archives). ``max_total_size`` caps
both together, so pruning looks at both. Which files to delete is decided by
:func:`nodekeeper.core.logs.policy.plan_prune`; this module only reads the directory
and deletes what it was told.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Protocol

from nodekeeper.core.logs.policy import ArchiveKey, LogFile, parse_archive, plan_prune


class LogsSettings(Protocol):
    """The ``[logs]`` settings this package needs (``nodekeeper.core.config.LogsConfig``)."""

    @property
    def dir(self) -> Path: ...
    @property
    def max_file_size(self) -> int: ...
    @property
    def max_total_size(self) -> int: ...
    @property
    def max_age(self) -> float: ...
    @property
    def compress(self) -> bool: ...


def node_prefix(instance: str) -> str:
    return instance


def core_prefix(instance: str) -> str:
    return f"nodekeeper-{instance}"


def current_path(directory: Path, prefix: str) -> Path:
    return directory / f"{prefix}.log"


def list_family(directory: Path, prefix: str) -> list[LogFile]:
    """Current file and archives of one family, as the policy sees them."""
    return _list(directory, (prefix,))


def list_instance(directory: Path, instance: str) -> list[LogFile]:
    """Both families of an instance, from one read of the directory."""
    return _list(directory, (node_prefix(instance), core_prefix(instance)))


def _list(directory: Path, prefixes: tuple[str, ...]) -> list[LogFile]:
    files: list[LogFile] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return files  # missing or unreadable: nothing to count or prune
    for entry in entries:
        name = entry.name
        for prefix in prefixes:
            if name == f"{prefix}.log":
                key = None
                in_progress = False
                break
            parsed = parse_archive(prefix, name)
            if parsed is not None:
                key, suffix = parsed
                in_progress = suffix == ".gz.tmp"
                break
        else:
            continue
        try:
            size = entry.stat(follow_symlinks=False).st_size
        except OSError:
            continue
        files.append(LogFile(name, size, key, in_progress))
    return files


def total_bytes(directory: Path, instance: str) -> int:
    return sum(f.size for f in list_instance(directory, instance))


class TotalBytes:
    """:func:`total_bytes` for a status written every few seconds, without a stat per archive.

    Finished archives never change, so their sizes are summed again only
    when the directory changes (a rotation, compression or pruning renames,
    creates or deletes a file, which moves the directory's mtime); the files
    still growing (current logs, compressions in progress) are looked at
    every time. A scan in the same second as the directory's last change is
    not trusted: a second change in that clock tick would not move the mtime.
    """

    def __init__(self, directory: Path, instance: str) -> None:
        self._directory = directory
        self._instance = instance
        self._mtime: int | None = None
        self._finished = 0
        self._growing: list[str] = []
        self._lock = threading.Lock()  # status is asked from more than one thread

    def __call__(self) -> int:
        with self._lock:
            return self._count()

    def _count(self) -> int:
        try:
            mtime = os.stat(self._directory).st_mtime_ns
        except OSError:
            return 0
        if mtime != self._mtime:
            listing = list_instance(self._directory, self._instance)
            growing = [f for f in listing if f.key is None or f.in_progress]
            self._finished = sum(f.size for f in listing) - sum(f.size for f in growing)
            self._growing = [f.name for f in growing]
            settled = time.time_ns() - mtime > 1_000_000_000
            self._mtime = mtime if settled else None
            return self._finished + sum(f.size for f in growing)
        total = self._finished
        for name in self._growing:
            try:
                total += os.stat(self._directory / name).st_size
            except OSError:
                continue  # renamed since: the directory's mtime says so next time
        return total


def prune(directory: Path, instance: str, settings: LogsSettings, now: float) -> list[str]:
    """Delete what the policy says; returns the names deleted. Never raises for I/O."""
    files = list_instance(directory, instance)
    doomed = plan_prune(files, now, settings.max_age, settings.max_total_size)
    deleted: list[str] = []
    for name in doomed:
        try:
            os.unlink(directory / name)
        except FileNotFoundError:
            continue
        except OSError:
            break  # read-only or failing disk: try again after the next rotation
        deleted.append(name)
    return deleted


def archives_oldest_first(directory: Path, prefix: str) -> list[Path]:
    """Finished archives (.log and .log.gz) of one family, oldest first."""
    found: list[tuple[ArchiveKey, bool, Path]] = []
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    for name in names:
        parsed = parse_archive(prefix, name)
        if parsed is not None and parsed[1] != ".gz.tmp":
            found.append((parsed[0], parsed[1] == ".gz", directory / name))
    found.sort(key=lambda item: (item[0], item[1]))
    return [path for _, _, path in found]
