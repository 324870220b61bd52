"""Handing the node over to a new core: the record the old core leaves, and the exec.

A switch ends the running core without stopping the node (core/service.py,
``serve``): its readers stop between two reads and write what they read
(core/logs/capture.py, ``detach``), and what they held of unfinished lines
goes into ``handover.json`` next to the pid file. Then the process exec's the
new core's executable: same pid, so the node stays its child and the service
manager sees nothing; the data dir lock stays held (its fd is passed on in
``NODEKEEPER_DATA_LOCK``). The new core takes the node over through the pid
file (core/supervise/takeover.py) and feeds each held partial line first.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from nodekeeper.core.fsutil import write_atomic
from nodekeeper.core.platform.base import DataDirLock
from nodekeeper.core.version import BUNDLE_DIR_ENV

_log = logging.getLogger(__name__)

RECORD_NAME = "handover.json"
# The path of the record, set only for the exec'd core.
HANDOVER_ENV = "NODEKEEPER_HANDOVER"
# Set when the launcher step exec'd the current version: it never exec's twice.
LAUNCHED_ENV = "NODEKEEPER_LAUNCHED"
# The fds of the data dir locks this process already holds, comma-separated
# (core/platform/posix.py).
LOCK_ENV = "NODEKEEPER_DATA_LOCK"
PRIVATE_ENV = (HANDOVER_ENV, LAUNCHED_ENV, LOCK_ENV)


class SwitchFailed(Exception):
    """The core cannot switch now; the message says why in one line."""


@dataclass(frozen=True)
class HandoverRecord:
    core_pid: int  # the process that exec's: only that same pid may trust the record fully
    from_version: str
    to_version: str
    partials: Mapping[int, bytes]  # unfinished lines the readers held, by pipe inode
    time: str
    guard_pid: int | None = None  # the probation guard, a child the new core reaps

    def to_json(self) -> bytes:
        data = {
            "core_pid": self.core_pid,
            "from": self.from_version,
            "to": self.to_version,
            "partials": {
                str(inode): base64.b64encode(held).decode() for inode, held in self.partials.items()
            },
            "time": self.time,
            "guard_pid": self.guard_pid,
        }
        return (json.dumps(data, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, raw: bytes) -> HandoverRecord:
        """The record; ValueError names what is wrong."""
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ValueError(f"not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        pid, from_v, to_v, when = (
            data.get("core_pid"),
            data.get("from"),
            data.get("to"),
            data.get("time"),
        )
        if not isinstance(pid, int) or pid <= 0:
            raise ValueError(f"'core_pid' must be a pid, got {pid!r}")
        for key, value in (("from", from_v), ("to", to_v), ("time", when)):
            if not isinstance(value, str):
                raise ValueError(f"{key!r} must be a string, got {value!r}")
        raw_partials = data.get("partials")
        if not isinstance(raw_partials, dict):
            raise ValueError("'partials' must be an object")
        partials: dict[int, bytes] = {}
        for inode, text in raw_partials.items():
            try:
                partials[int(inode)] = base64.b64decode(str(text), validate=True)
            except (ValueError, binascii.Error):
                raise ValueError(f"'partials' has a bad entry for {inode!r}") from None
        guard = data.get("guard_pid")
        if guard is not None and (not isinstance(guard, int) or guard <= 0):
            raise ValueError(f"'guard_pid' must be a pid or null, got {guard!r}")
        return cls(pid, str(from_v), str(to_v), partials, str(when), guard)


def record_path(data_dir: Path) -> Path:
    return data_dir / RECORD_NAME


def write_record(data_dir: Path, record: HandoverRecord) -> Path:
    path = record_path(data_dir)
    write_atomic(path, record.to_json())
    return path


def read_record(data_dir: Path) -> HandoverRecord | None:
    """The record a handing-over core left, or None (none, or damaged: logged)."""
    path = record_path(data_dir)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        _log.warning("cannot read %s: %s", path, exc.strerror or exc)
        return None
    try:
        return HandoverRecord.from_json(raw)
    except ValueError as exc:
        _log.warning("ignoring %s: %s", path, exc)
        return None


def take_record(data_dir: Path) -> HandoverRecord | None:
    """The record, read once: its partial lines go to this core's readers only."""
    record = read_record(data_dir)
    remove_record(data_dir)
    return record


def remove_record(data_dir: Path) -> None:
    try:
        record_path(data_dir).unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        _log.warning("cannot remove %s: %s", record_path(data_dir), exc.strerror or exc)


def take_private_env() -> dict[str, str]:
    """Our markers from the environment, removed from it so the node never inherits them."""
    return {
        name: value for name in PRIVATE_ENV if (value := os.environ.pop(name, None)) is not None
    }


def core_env() -> dict[str, str]:
    """The environment another core starts with: ours without what only this core may read
    (a development build names its own folder itself)."""
    return {k: v for k, v in os.environ.items() if k not in (*PRIVATE_ENV, BUNDLE_DIR_ENV)}


def exec_core(
    command: Sequence[str],
    args: Sequence[str],
    *,
    locks: Sequence[DataDirLock],
    env: Mapping[str, str],
) -> NoReturn:
    """Replace this process with ``command args`` (raises OSError when it cannot).

    The data dir locks' fds (one per instance the process serves) are made
    inheritable and named in the environment so that the new core keeps
    holding every lock the whole time.
    """
    new_env = core_env()
    new_env.update(env)
    fds = [fd for lock in locks if (fd := lock.fd()) is not None]
    for fd in fds:
        os.set_inheritable(fd, True)
    if fds:
        new_env[LOCK_ENV] = ",".join(map(str, fds))
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(command[0], [*command, *args], new_env)
    except OSError:
        for fd in fds:
            os.set_inheritable(fd, False)
        raise
