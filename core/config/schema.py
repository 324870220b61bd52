"""What a loaded configuration is: frozen dataclasses mirroring the TOML file.

Field names are the TOML keys; durations are float seconds, sizes int bytes,
paths absolute. Each default is written here and nowhere else: the reader
takes them from these classes (:func:`schema_default`) and a test checks
docs/configuration.md against them.
Defaults that depend on something else (the data dir, the OS, the update
source) are computed by the reader from the constants below.
This module does no I/O.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

# The instance default lives beside the per-OS paths it names.
from nodekeeper.core.paths import DEFAULT_INSTANCE as DEFAULT_INSTANCE

MiB = 1024**2
GiB = 1024**3
DAY = 86400.0

UPDATE_SOURCES = ("tuf", "storj", "github")
DEFAULT_UPDATE_SOURCE = "storj"
# Where each source is found when updates.url is not set; tuf has no public
# default, so its url is required.
DEFAULT_UPDATE_URLS = {"storj": "https://version.storj.io", "github": "https://api.github.com"}
MIN_MEMORY_MAX = 16 * MiB
MIN_LOG_FILE_SIZE = 4096
# What [notify] format can render (core/notifications/formats.py).
NOTIFY_FORMATS = ("json", "discord", "slack", "telegram", "ntfy", "gotify")

# Signals the supervisor can send on every POSIX system it runs on; CTRL_*
# are the Windows console events.
STOP_SIGNALS = frozenset(
    {
        "SIGINT", "SIGTERM", "SIGQUIT", "SIGHUP", "SIGKILL", "SIGUSR1", "SIGUSR2",
        "SIGABRT", "SIGALRM", "SIGWINCH", "SIGCONT", "SIGSTOP", "SIGTSTP",
        "CTRL_BREAK", "CTRL_C",
    }
)  # fmt: skip


def _no_env() -> Mapping[str, str]:
    return types.MappingProxyType({})


@dataclass(frozen=True)
class NodeConfig:
    command: tuple[str, ...]
    binary_name: str = "storagenode"
    initial_binary: Path | None = None
    initial_version: str | None = None
    workdir: Path | None = None
    env: Mapping[str, str] = field(default_factory=_no_env)
    stop_signal: str = "SIGINT"
    # POSIX, root core only: the node runs as this account (with its groups).
    user: str | None = None
    group: str | None = None
    stop_timeout: float = 30.0
    health_url: str | None = None
    health_interval: float = 30.0
    health_timeout: float = 10.0
    health_failures: int = 3
    # A health_url that never answered since the node started restarts nothing
    # within this grace, and afterwards shows health "unknown" (a wrong URL).
    health_grace: float = 300.0
    restart_delay: float = 0.1
    restart_delay_max: float = 300.0
    stable_after: float = 600.0
    crash_loop_restarts: int = 10
    crash_loop_window: float = 600.0


@dataclass(frozen=True)
class LimitsConfig:
    memory_max: int | None = None
    cpu_max: float | None = None
    nice: int | None = None


@dataclass(frozen=True)
class UpdatesConfig:
    enabled: bool = True
    source: str = DEFAULT_UPDATE_SOURCE
    url: str = DEFAULT_UPDATE_URLS[DEFAULT_UPDATE_SOURCE]
    trusted_root: Path | None = None
    process: str = "storagenode"
    repository: str = "storj/storj"
    public_key: str | None = None
    interval: float = 43200.0
    jitter: float = 3600.0
    startup_delay: float = 300.0
    probation: float = 300.0
    keep_versions: int = 3
    node_id: str | None = None
    min_free_space: int = GiB
    allow_http: bool = False


SELF_UPDATE_SOURCES = ("tuf", "github")


@dataclass(frozen=True)
class SelfUpdateConfig:
    """The core's own updates; the schedule (interval, jitter, ...), allow_http and
    min_free_space are ``[updates]``'s."""

    enabled: bool = True
    source: str = "tuf"
    # Defaults computed by the reader: url and trusted_root follow [updates] when it is
    # the same kind of source; None = no source for the core (it does not check).
    url: str | None = None
    trusted_root: Path | None = None
    channel: str = "nodekeeper"
    repository: str | None = None  # github
    public_key: str | None = None  # github; default: updates.public_key
    # How long a new core has to take the node over and answer on its socket.
    probation: float = 60.0


@dataclass(frozen=True)
class LogsConfig:
    dir: Path  # default: <data_dir>/logs
    max_file_size: int = 10 * MiB
    max_total_size: int = GiB
    max_age: float = 30 * DAY
    compress: bool = True


@dataclass(frozen=True)
class NotifyConfig:
    webhook_url: str | None = None
    format: str | None = None  # None: the event object as JSON
    chat_id: str | None = None  # telegram only: where sendMessage posts


@dataclass(frozen=True)
class MetricsConfig:
    listen: str | None = None  # "HOST:PORT"; no endpoint when unset


@dataclass(frozen=True)
class PathsConfig:
    data_dir: Path  # default: per OS (nodekeeper.core.paths)
    # A filesystem path on POSIX, a named pipe (\\.\pipe\...) on Windows.
    socket: str  # default: per OS


@dataclass(frozen=True)
class Config:
    instance: str  # default: DEFAULT_INSTANCE
    node: NodeConfig
    limits: LimitsConfig
    updates: UpdatesConfig
    logs: LogsConfig
    notify: NotifyConfig
    paths: PathsConfig
    source: Path  # the file this was read from (not a key)
    metrics: MetricsConfig = MetricsConfig()
    self_update: SelfUpdateConfig = SelfUpdateConfig()


# The file's tables, in the order they are read and written.
SECTIONS: dict[str, type] = {
    "node": NodeConfig,
    "limits": LimitsConfig,
    "updates": UpdatesConfig,
    "self_update": SelfUpdateConfig,
    "logs": LogsConfig,
    "notify": NotifyConfig,
    "metrics": MetricsConfig,
    "paths": PathsConfig,
}


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()


def schema_default(cls: type, key: str) -> Any:
    """The default of ``key`` in section class ``cls``, or ``NO_DEFAULT``."""
    for f in fields(cls):
        if f.name == key:
            if f.default is not MISSING:
                return f.default
            if f.default_factory is not MISSING:
                return f.default_factory()
            return NO_DEFAULT
    raise KeyError(f"{cls.__name__} has no key {key!r}")
