"""The key table: for every key of the file, its TOML type, bounds and parser.

One :class:`Rule` per key says how a given value is read and checked; the
default for an absent key is the schema's (``schema.py``), passed in by the
reader. Rules that tie two keys together (``health_timeout`` ≤
``health_interval``, …) and defaults computed from other keys live in
``reader.py``. Every problem is raised as one line naming the file and the
key; a ``check`` reports its problem as ``ValueError(problem)``.
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from nodekeeper.core import paths
from nodekeeper.core.config.schema import (
    MIN_LOG_FILE_SIZE,
    MIN_MEMORY_MAX,
    NO_DEFAULT,
    NOTIFY_FORMATS,
    SELF_UPDATE_SOURCES,
    STOP_SIGNALS,
    UPDATE_SOURCES,
)
from nodekeeper.core.config.table import Table
from nodekeeper.core.errors import ConfigError
from nodekeeper.core.units import format_size


@dataclass(frozen=True)
class Rule:
    """How one key is read. ``check`` turns a given value into the stored one."""

    check: Callable[[Any], Any] | None = None
    required: bool = False

    def read(self, t: Table, key: str, default: Any, earlier: Mapping[str, Any]) -> Any:
        """The value of ``key``; ``earlier`` holds the keys of this table read before it."""
        value = self.given(t, key, earlier)
        if value is None:
            if self.required:
                raise t.error(key, "missing (required)")
            # No schema default: the reader computes it from other keys.
            return None if default is NO_DEFAULT else default
        return value if self.check is None else t.parse(key, self.check, value)

    def given(self, t: Table, key: str, earlier: Mapping[str, Any]) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class Text(Rule):
    def given(self, t: Table, key: str, earlier: Mapping[str, Any]) -> Any:
        return t.string(key)


@dataclass(frozen=True)
class Flag(Rule):
    def given(self, t: Table, key: str, earlier: Mapping[str, Any]) -> Any:
        return t.boolean(key)


@dataclass(frozen=True)
class Integer(Rule):
    minimum: int | None = None
    maximum: int | None = None

    def given(self, t: Table, key: str, earlier: Mapping[str, Any]) -> Any:
        value = t.integer(key)
        if value is None:
            return None
        low, high = self.minimum, self.maximum
        if low is not None and high is not None and not low <= value <= high:
            raise t.error(key, f"must be between {low} and {high}, got {value}")
        if low is not None and value < low:
            raise t.error(key, f"must be at least {low}, got {value}")
        return value


@dataclass(frozen=True)
class Number(Rule):
    """A finite number; ``unit`` names what it counts, for the error."""

    unit: str = ""

    def given(self, t: Table, key: str, earlier: Mapping[str, Any]) -> Any:
        value = t.number(key)
        if value is not None and value <= 0:
            raise t.error(key, f"must be a positive number of {self.unit}, got {value!r}")
        return value


@dataclass(frozen=True)
class Duration(Rule):
    """Seconds, from ``"30s"`` or a number; never negative, and > 0 when ``positive``."""

    positive: bool = False

    def given(self, t: Table, key: str, earlier: Mapping[str, Any]) -> Any:
        return t.duration(key, self.positive)


@dataclass(frozen=True)
class Size(Rule):
    """Bytes, from ``"10MiB"`` or an integer; never negative, at least ``minimum``."""

    minimum: int = 0

    def given(self, t: Table, key: str, earlier: Mapping[str, Any]) -> Any:
        size = t.size(key)
        if size is not None and size < self.minimum:
            raise t.error(
                key, f"{format_size(size)} is too small (at least {format_size(self.minimum)})"
            )
        return size


@dataclass(frozen=True)
class FilePath(Rule):
    """A path, resolved against the config file's folder."""

    def given(self, t: Table, key: str, earlier: Mapping[str, Any]) -> Any:
        return t.path(key)


@dataclass(frozen=True)
class Url(Rule):
    """An https URL; http too when ``http`` or when the key ``http_if`` (read earlier) is true."""

    http: bool = False
    http_if: str | None = None

    def given(self, t: Table, key: str, earlier: Mapping[str, Any]) -> Any:
        allow_http = self.http or bool(self.http_if and earlier[self.http_if])
        return t.url(key, allow_http=allow_http)


@dataclass(frozen=True)
class SecretUrl(Url):
    """A URL that may hold a token (webhooks): a problem is told without repeating it."""

    def given(self, t: Table, key: str, earlier: Mapping[str, Any]) -> Any:
        try:
            return super().given(t, key, earlier)
        except ConfigError:
            schemes = "an http(s)" if self.http else "an https"
            raise t.error(
                key,
                f"must be {schemes} URL with a host (the value is not shown: it may hold a token)",
            ) from None


@dataclass(frozen=True)
class Strings(Rule):
    """A list of strings, stored as a tuple."""

    def given(self, t: Table, key: str, earlier: Mapping[str, Any]) -> Any:
        value = t.string_list(key)
        return None if value is None else tuple(value)


@dataclass(frozen=True)
class Environment(Rule):
    """A table of environment variables, stored read-only."""

    def given(self, t: Table, key: str, earlier: Mapping[str, Any]) -> Any:
        value = t.string_table(key)
        return None if value is None else types.MappingProxyType(value)


# --- checks of single values ----------------------------------------------------

_VERSION = re.compile(r"v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?")
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_NODE_ID = re.compile(r"[0-9A-Za-z]{16,128}")
_BASE58 = frozenset("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz")
_HEX = frozenset("0123456789abcdefABCDEF")


def _instance(name: str) -> str:
    if not paths.valid_instance_name(name):
        raise ValueError(f"unsafe instance name {name!r} (use 1-64 of A-Z a-z 0-9 . _ -)")
    return name


def _command(command: tuple[str, ...]) -> tuple[str, ...]:
    if not command:
        raise ValueError('must not be empty (e.g. ["{binary}", "run"])')
    if not command[0].strip():
        raise ValueError("the program (first element) must not be empty")
    return command


def _version(version: str) -> str:
    if not _VERSION.fullmatch(version):
        raise ValueError(f"not a version {version!r} (e.g. '1.2.3')")
    return version


def _file_name(name: str) -> str:
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise ValueError(f"must be a plain file name, got {name!r}")
    return name


def _node_user(name: str) -> str:
    """``node.user``: an existing account (POSIX only; that a root core runs is checked at start)."""
    return _account("user", name)


def _node_group(name: str) -> str:
    return _account("group", name)


def _account(kind: str, name: str) -> str:
    """``name`` if this machine has such a user or group (POSIX; Windows refuses both)."""
    if sys.platform == "win32":
        raise ValueError(f"running the node as another {kind} is not supported on Windows yet")
    if kind == "user":
        import pwd

        lookup: Callable[[str], object] = pwd.getpwnam
    else:
        import grp

        lookup = grp.getgrnam
    try:
        lookup(name)
    except KeyError:
        raise ValueError(f"there is no {kind} {name!r} on this machine") from None
    return name


def _stop_signal(written: str) -> str:
    """``"term"``, ``"SIGTERM"`` → ``"SIGTERM"``; ``"CTRL_C_EVENT"`` → ``"CTRL_C"``."""
    name = written.upper().removesuffix("_EVENT")
    if not name.startswith(("SIG", "CTRL_")):
        name = "SIG" + name
    if name not in STOP_SIGNALS:
        raise ValueError(
            f"unknown signal {written!r} (e.g. 'SIGINT', 'SIGTERM'; Windows: 'CTRL_BREAK')"
        )
    return name


def _source(source: str) -> str:
    if source not in UPDATE_SOURCES:
        raise ValueError(f"unknown source {source!r} (use 'tuf', 'storj' or 'github')")
    return source


def _self_source(source: str) -> str:
    if source not in SELF_UPDATE_SOURCES:
        raise ValueError(f"unknown source {source!r} (use 'tuf' or 'github')")
    return source


def _process(process: str) -> str:
    if not process or not _REPOSITORY.fullmatch(f"x/{process}"):
        raise ValueError(f"not a process name {process!r}")
    return process


def _repository(repository: str) -> str:
    if not _REPOSITORY.fullmatch(repository):
        raise ValueError(f"must be 'owner/name', got {repository!r}")
    return repository


def _public_key(key: str) -> str:
    if not _HEX64.fullmatch(key):
        raise ValueError("must be an ed25519 public key as 64 hex characters")
    return key.lower()


def _node_id(node_id: str) -> str:
    chars = set(node_id)
    if not _NODE_ID.fullmatch(node_id) or not (chars <= _BASE58 or chars <= _HEX):
        raise ValueError(f"not a node ID {node_id!r} (base58 or hex, 16-128 characters)")
    # Imported here: it costs every client command (status, ...) a few ms at start.
    from nodekeeper.core.update.nodeid import NodeIdError, node_id_bytes

    try:
        node_id_bytes(node_id)  # what the updater will do with it, refused now rather than then
    except NodeIdError as exc:
        raise ValueError(
            f"{exc} (use the node's base58 ID, as the dashboard shows it, or 64 hex digits)"
        ) from None
    return node_id


def _notify_format(name: str) -> str:
    if name not in NOTIFY_FORMATS:
        raise ValueError(f"unknown format {name!r} (use {', '.join(map(repr, NOTIFY_FORMATS))})")
    return name


_CHAT_ID = re.compile(r"-?[0-9]{1,20}|@[A-Za-z0-9_]{4,64}")


def _chat_id(chat_id: str) -> str:
    if not _CHAT_ID.fullmatch(chat_id):
        raise ValueError(f"not a Telegram chat id {chat_id!r} (a number or @channelname)")
    return chat_id


_LISTEN = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(?P<port>[0-9]{1,5})")


def _listen(listen: str) -> str:
    match = _LISTEN.fullmatch(listen)
    if not match or not 1 <= int(match.group("port")) <= 65535:
        raise ValueError(f'must be "HOST:PORT" like "127.0.0.1:9101", got {listen!r}')
    return listen


# --- the table ------------------------------------------------------------------
# Keys are read in this order, so a rule may depend on a key listed above it
# (``Url(http_if=...)``).

INSTANCE = Text(check=_instance)

KEYS: dict[str, dict[str, Rule]] = {
    "node": {
        "command": Strings(check=_command, required=True),
        "binary_name": Text(check=_file_name),
        "initial_binary": FilePath(),
        "initial_version": Text(check=_version),
        "workdir": FilePath(),
        "env": Environment(),
        "stop_signal": Text(check=_stop_signal),
        "user": Text(check=_node_user),
        "group": Text(check=_node_group),
        "stop_timeout": Duration(positive=True),
        "health_url": Url(http=True),
        "health_interval": Duration(positive=True),
        "health_timeout": Duration(positive=True),
        "health_failures": Integer(minimum=1),
        "health_grace": Duration(),
        "restart_delay": Duration(),
        "restart_delay_max": Duration(positive=True),
        "stable_after": Duration(positive=True),
        "crash_loop_restarts": Integer(minimum=1),
        "crash_loop_window": Duration(positive=True),
    },
    "limits": {
        "memory_max": Size(minimum=MIN_MEMORY_MAX),
        "cpu_max": Number(unit="CPU cores"),
        "nice": Integer(minimum=-20, maximum=19),
    },
    "updates": {
        "enabled": Flag(),
        "source": Text(check=_source),
        "allow_http": Flag(),
        "url": Url(http_if="allow_http"),
        "trusted_root": FilePath(),
        "process": Text(check=_process),
        "repository": Text(check=_repository),
        "public_key": Text(check=_public_key),
        "interval": Duration(positive=True),
        "jitter": Duration(),
        "startup_delay": Duration(),
        "probation": Duration(positive=True),
        "keep_versions": Integer(minimum=2),
        "node_id": Text(check=_node_id),
        "min_free_space": Size(),
    },
    "self_update": {
        "enabled": Flag(),
        "source": Text(check=_self_source),
        # http:// is allowed by updates.allow_http, checked by the reader.
        "url": Url(http=True),
        "trusted_root": FilePath(),
        "channel": Text(check=_process),
        "repository": Text(check=_repository),
        "public_key": Text(check=_public_key),
        "probation": Duration(positive=True),
    },
    "logs": {
        "dir": FilePath(),
        "max_file_size": Size(minimum=MIN_LOG_FILE_SIZE),
        "max_total_size": Size(),
        "max_age": Duration(positive=True),
        "compress": Flag(),
    },
    "notify": {
        "webhook_url": SecretUrl(http=True),
        "format": Text(check=_notify_format),
        "chat_id": Text(check=_chat_id),
    },
    "metrics": {
        "listen": Text(check=_listen),
    },
    "paths": {
        "data_dir": FilePath(),
        # Checked against the OS's socket rules by the reader.
        "socket": Text(),
    },
}
