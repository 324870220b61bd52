"""state.json: what the core must remember across restarts (docs/contract.md, Install store).

The file holds the current and previous version, a pending switch, the
quarantine, the node ID, the operator's updates on/off choice, the
operator's maintenance stop and the core's own update state
(``self_update``). It is the pointer that decides which binary runs, so
it is only ever replaced
atomically: write a temporary file in the same folder, fsync it, rename it
over the old one, fsync the folder. A power cut at any instant leaves the
old or the new file, never a mix. Before each replace, the current good
file is kept as ``state.json.bak``, the way out when the file is damaged.

This module never decides anything about updates; it stores what it is told
and refuses, with one line saying what to do, a file it cannot trust.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nodekeeper.core.errors import StateError
from nodekeeper.core.fsutil import write_atomic
from nodekeeper.core.selfupdate.state import SelfUpdateState

SCHEMA = 1

_KNOWN_KEYS = frozenset(
    {
        "schema",
        "current",
        "previous",
        "pending",
        "quarantined",
        "node_id",
        "updates_enabled",
        "installed",
        "last_check",
        "next_check",
        "stopped_by_operator",
        "self_update",
    }
)

# One lock per file for every StateStore in this process, so that two stores
# on the same path cannot interleave their load-modify-save.
_LOCKS: dict[Path, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()
# The last state each file held, by (inode, mtime, size), kept current by
# every save in this process: status asks for the state often, and it
# changes rarely. Guarded by the file's lock above.
_CACHE: dict[Path, tuple[tuple[int, int, int], State]] = {}


def _file_key(info: os.stat_result) -> tuple[int, int, int]:
    return (info.st_ino, info.st_mtime_ns, info.st_size)


@dataclass(frozen=True)
class State:
    current: str | None = None
    previous: str | None = None
    # A switch in progress: {"from": "1.2.3" | None, "to": "1.3.0", "started": ISO time}.
    pending: dict[str, Any] | None = None
    quarantined: tuple[str, ...] = ()
    node_id: str | None = None
    # None follows updates.enabled from the config; a bool is the operator's choice.
    updates_enabled: bool | None = None
    installed: tuple[str, ...] = ()
    # The update schedule (epoch seconds), so a restart keeps this node's phase.
    last_check: float | None = None
    next_check: float | None = None
    # The operator's maintenance stop (`nodekeeper stop`): it outlasts core restarts.
    stopped_by_operator: bool = False
    # The core's own updates (docs/contract.md, state.json: self_update).
    self_update: SelfUpdateState = field(default_factory=SelfUpdateState)
    # Keys written by a newer nodekeeper of the same schema, kept untouched.
    extra: Mapping[str, Any] = field(default_factory=dict)
    schema: int = SCHEMA

    def __post_init__(self) -> None:
        _check(self)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = dict(self.extra)
        data.update(
            schema=self.schema,
            current=self.current,
            previous=self.previous,
            pending=None if self.pending is None else dict(self.pending),
            quarantined=list(self.quarantined),
            node_id=self.node_id,
            updates_enabled=self.updates_enabled,
            installed=list(self.installed),
            last_check=self.last_check,
            next_check=self.next_check,
        )
        # Written only when set, so a file without the stop reads the same in older versions.
        if self.stopped_by_operator:
            data["stopped_by_operator"] = True
        if self.self_update != SelfUpdateState():
            data["self_update"] = self.self_update.to_dict()
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: object) -> State:
        """A State from parsed JSON; ValueError says what is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {_json_type(data)}")
        schema = data.get("schema")
        if not isinstance(schema, int) or isinstance(schema, bool) or schema < 1:
            raise ValueError(f"'schema' must be a positive integer, got {schema!r}")
        if schema > SCHEMA:
            raise NewerSchema(schema)
        for key in ("quarantined", "installed"):
            if not isinstance(data.get(key, []), list):
                raise ValueError(f"{key!r} must be a list of versions, got {_json_type(data[key])}")
        return cls(
            schema=schema,
            current=data.get("current"),
            previous=data.get("previous"),
            pending=data.get("pending"),
            quarantined=tuple(data.get("quarantined", [])),
            node_id=data.get("node_id"),
            updates_enabled=data.get("updates_enabled"),
            installed=tuple(data.get("installed", [])),
            last_check=data.get("last_check"),
            next_check=data.get("next_check"),
            stopped_by_operator=data.get("stopped_by_operator", False),
            self_update=_self_update(data.get("self_update")),
            extra={k: v for k, v in data.items() if k not in _KNOWN_KEYS},
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> State:
        """A State from the file's text; json.JSONDecodeError or ValueError on bad input."""
        return cls.from_dict(json.loads(text))


def _self_update(data: object) -> SelfUpdateState:
    if data is None:
        return SelfUpdateState()
    try:
        return SelfUpdateState.from_dict(data)
    except ValueError as exc:
        raise ValueError(f"'self_update': {exc}") from None


class NewerSchema(ValueError):
    def __init__(self, schema: int) -> None:
        super().__init__(f"schema {schema} is newer than this nodekeeper understands ({SCHEMA})")
        self.schema = schema


def _check(state: State) -> None:
    if not isinstance(state.schema, int) or isinstance(state.schema, bool):
        raise ValueError(f"'schema' must be an integer, got {state.schema!r}")
    for name in ("current", "previous"):
        _check_version(name, getattr(state, name), optional=True)
    for name in ("quarantined", "installed"):
        versions = getattr(state, name)
        if not isinstance(versions, tuple):
            raise ValueError(f"{name!r} must be a list of versions, got {_json_type(versions)}")
        for version in versions:
            _check_version(name, version)
    if state.node_id is not None and (not isinstance(state.node_id, str) or not state.node_id):
        raise ValueError(f"'node_id' must be a non-empty string or null, got {state.node_id!r}")
    if state.updates_enabled is not None and not isinstance(state.updates_enabled, bool):
        raise ValueError(
            f"'updates_enabled' must be true, false or null, got {state.updates_enabled!r}"
        )
    if not isinstance(state.stopped_by_operator, bool):
        raise ValueError(
            f"'stopped_by_operator' must be true or false, got {state.stopped_by_operator!r}"
        )
    if state.pending is not None:
        _check_pending(state.pending)
    if not isinstance(state.self_update, SelfUpdateState):
        raise ValueError(f"'self_update' must be an object, got {_json_type(state.self_update)}")
    for name in ("last_check", "next_check"):
        value = getattr(state, name)
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
            raise ValueError(f"{name!r} must be a time in seconds or null, got {value!r}")
    if not isinstance(state.extra, Mapping) or _KNOWN_KEYS & set(state.extra):
        raise ValueError("'extra' must hold only keys this version does not know")


def _check_version(name: str, value: object, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name!r} must hold version strings, got {value!r}")


def _check_pending(pending: object) -> None:
    if not isinstance(pending, dict):
        raise ValueError(f"'pending' must be an object or null, got {_json_type(pending)}")
    _check_version("pending.to", pending.get("to"))
    _check_version("pending.from", pending.get("from"), optional=True)
    started = pending.get("started")
    if not isinstance(started, str) or not started:
        raise ValueError(f"'pending.started' must be an ISO time string, got {started!r}")


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict | Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__


class StateStore:
    """Loads and atomically saves one state.json.

    ``config_path`` only improves the messages (the exact command to run).
    """

    def __init__(self, path: str | Path, config_path: str | Path | None = None) -> None:
        self.path = Path(path).absolute()
        self.backup_path = self.path.with_name(self.path.name + ".bak")
        self._config_hint = str(config_path) if config_path is not None else "FILE"
        with _LOCKS_GUARD:
            self._lock = _LOCKS.setdefault(self.path, threading.RLock())

    # -- reading ---------------------------------------------------------------

    def load(self) -> State:
        """The saved state; a default State when no file exists yet."""
        with self._lock:
            try:
                info = os.stat(self.path)
            except OSError:
                info = None
            key = _file_key(info) if info else None
            cached = _CACHE.get(self.path)
            if key is not None and cached is not None and cached[0] == key:
                return cached[1]
            data = self._read(self.path)
            state = State() if data is None else self._parse(self.path, data)
            if key is not None:
                _CACHE[self.path] = (key, state)
            return state

    def load_backup(self) -> State:
        """The state kept in state.json.bak; StateError when it is missing or bad."""
        data = self._read(self.backup_path)
        if data is None:
            raise StateError(f"there is no backup {self.backup_path} to restore")
        return self._parse(self.backup_path, data, backup=True)

    def _read(self, path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"cannot read {path}: {exc.strerror or exc}") from None

    def _parse(self, path: Path, data: bytes, backup: bool = False) -> State:
        try:
            return State.from_json(data)
        except NewerSchema as exc:
            raise StateError(
                f"{path} was written by a newer nodekeeper (state schema {exc.schema}, this "
                f"version knows {SCHEMA}): upgrade nodekeeper; it will not downgrade the file"
            ) from None
        except UnicodeDecodeError as exc:
            problem = f"is corrupt (not UTF-8 at byte {exc.start})"
        except json.JSONDecodeError as exc:
            problem = f"is corrupt (line {exc.lineno} column {exc.colno}: {exc.msg})"
        except ValueError as exc:
            problem = f"is invalid ({exc})"
        if backup:
            raise StateError(f"the backup {path} {problem}; it cannot be restored")
        raise StateError(f"{path} {problem}; {self._way_out()}")

    def _way_out(self) -> str:
        if self.backup_path.exists():
            return (
                f"the last good copy is {self.backup_path}: run 'nodekeeper state restore "
                f"--config {self._config_hint}' or move {self.path.name} aside"
            )
        return (
            f"there is no backup: move {self.path.name} aside to start from an empty state "
            "(the installed versions stay; the quarantine and updates on/off choice are lost)"
        )

    # -- writing ---------------------------------------------------------------

    def save(self, state: State) -> None:
        """Replace the file atomically, keeping the current good file as state.json.bak.

        On failure (read-only filesystem, disk full, ...) raise StateError and
        leave the previous file as it was.
        """
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._keep_backup()
                _CACHE.pop(self.path, None)
                write_atomic(self.path, state.to_json().encode())
                _CACHE[self.path] = (_file_key(os.stat(self.path)), state)
            except OSError as exc:
                raise StateError(
                    f"cannot save {self.path}: {_os_problem(exc)}; the previous state is unchanged"
                ) from None

    def update(self, **changes: Any) -> State:
        """Load, apply ``changes`` (State field names), save and return the new state."""
        with self._lock:
            state = dataclasses.replace(self.load(), **changes)
            self.save(state)
            return state

    def modify(self, change: Callable[[State], State]) -> State:
        """Load, ``change`` the state, save and return it, with no other writer in between.

        For changes that depend on the saved value, e.g. adding to the
        quarantine: ``store.modify(lambda s: replace(s, quarantined=(*s.quarantined, v)))``.
        """
        with self._lock:
            state = change(self.load())
            self.save(state)
            return state

    def restore_backup(self) -> State:
        """Make state.json.bak the current state again (after checking it)."""
        with self._lock:
            state = self.load_backup()
            try:
                # The damaged file is not kept as .bak: the good backup stays too.
                _CACHE.pop(self.path, None)
                write_atomic(self.path, self.backup_path.read_bytes())
            except OSError as exc:
                raise StateError(f"cannot restore {self.path}: {_os_problem(exc)}") from None
            return state

    def _keep_backup(self) -> None:
        current = self._read(self.path)
        if current is None:
            return
        try:
            State.from_json(current)
        except ValueError:
            # Never let a damaged file overwrite the last good backup.
            return
        if self._read(self.backup_path) != current:
            write_atomic(self.backup_path, current)


def _os_problem(exc: OSError) -> str:
    if exc.errno == errno.EROFS:
        return "the filesystem is read-only"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "no space left on the device"
    return exc.strerror or str(exc)
