"""The configuration file (DESIGN.md §3): TOML in, frozen dataclasses out.

Field names are the TOML keys; durations become float seconds, sizes int
bytes, relative paths are resolved against the config file's folder.
Anything wrong in the file raises :class:`~nodekeeper.core.errors.ConfigError` with one
line ``"<file>: <dotted.key>: <problem>"`` before anything is started.
This module reads one file and never touches the node, the network or the
data dir.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import tomllib
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from nodekeeper.core import paths
from nodekeeper.core.errors import ConfigError
from nodekeeper.core.units import format_size, parse_duration, parse_size

MiB = 1024**2
GiB = 1024**3
DAY = 86400.0

UPDATE_SOURCES = ("tuf", "storj", "github")
DEFAULT_UPDATE_URLS = {"storj": "https://version.storj.io", "github": "https://api.github.com"}
MIN_MEMORY_MAX = 16 * MiB
MIN_LOG_FILE_SIZE = 4096

# Signals the supervisor can send on every POSIX system it runs on; CTRL_*
# are the Windows console events.
STOP_SIGNALS = frozenset(
    {
        "SIGINT", "SIGTERM", "SIGQUIT", "SIGHUP", "SIGKILL", "SIGUSR1", "SIGUSR2",
        "SIGABRT", "SIGALRM", "SIGWINCH", "SIGCONT", "SIGSTOP", "SIGTSTP",
        "CTRL_BREAK", "CTRL_C",
    }
)  # fmt: skip

_VERSION = re.compile(r"v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?")
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_NODE_ID = re.compile(r"[0-9A-Za-z]{16,128}")
_BASE58 = frozenset("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz")
_HEX = frozenset("0123456789abcdefABCDEF")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class NodeConfig:
    command: tuple[str, ...]
    binary_name: str = "storagenode"
    initial_binary: Path | None = None
    initial_version: str | None = None
    workdir: Path | None = None
    env: Mapping[str, str] = field(default_factory=lambda: types.MappingProxyType({}))
    stop_signal: str = "SIGINT"
    stop_timeout: float = 30.0
    health_url: str | None = None
    health_interval: float = 30.0
    health_timeout: float = 10.0
    health_failures: int = 3
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
    source: str = "storj"
    url: str = "https://version.storj.io"
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


@dataclass(frozen=True)
class LogsConfig:
    dir: Path
    max_file_size: int = 10 * MiB
    max_total_size: int = GiB
    max_age: float = 30 * DAY
    compress: bool = True


@dataclass(frozen=True)
class NotifyConfig:
    webhook_url: str | None = None


@dataclass(frozen=True)
class PathsConfig:
    data_dir: Path
    # A filesystem path on POSIX, a named pipe (\\.\pipe\...) on Windows.
    socket: str


@dataclass(frozen=True)
class Config:
    instance: str
    node: NodeConfig
    limits: LimitsConfig
    updates: UpdatesConfig
    logs: LogsConfig
    notify: NotifyConfig
    paths: PathsConfig
    source: Path


# --- loading ------------------------------------------------------------------


def load_config(path: str | Path, defaults: paths.DefaultPaths | None = None) -> Config:
    """Read and validate a config file; every problem is one ConfigError line."""
    source = Path(path).expanduser().absolute()
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read the config file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not UTF-8 text (byte {exc.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: TOML syntax error: {exc}") from None
    return config_from_dict(data, source, defaults)


def config_from_dict(
    data: Mapping[str, Any], source: Path, defaults: paths.DefaultPaths | None = None
) -> Config:
    """Validate already-parsed TOML data as if it had been read from ``source``.

    ``defaults`` replaces the running system's default paths (tests use it to
    check other OSes' defaults).
    """
    source = Path(source).expanduser().absolute()
    top = _Table(data, "", source)
    top.check_keys(("instance", "node", "limits", "updates", "logs", "notify", "paths"))
    instance = top.string("instance", "storagenode")
    if not paths.valid_instance_name(instance):
        raise top.error(
            "instance", f"unsafe instance name {instance!r} (use 1-64 of A-Z a-z 0-9 . _ -)"
        )
    if defaults is None:
        defaults = paths.current_defaults(instance)
    node = _node(top.table("node", required=True))
    limits = _limits(top.table("limits"))
    updates = _updates(top.table("updates"))
    path_config = _paths(top.table("paths"), defaults)
    logs = _logs(top.table("logs"), path_config.data_dir)
    notify = _notify(top.table("notify"))
    return Config(instance, node, limits, updates, logs, notify, path_config, source)


def _node(t: _Table) -> NodeConfig:
    t.check_keys(tuple(f.name for f in fields(NodeConfig)))
    command = t.string_list("command", required=True)
    if not command:
        raise t.error("command", 'must not be empty (e.g. ["{binary}", "run"])')
    if not command[0].strip():
        raise t.error("command", "the program (first element) must not be empty")
    initial_version = t.optional_string("initial_version")
    if initial_version is not None and not _VERSION.fullmatch(initial_version):
        raise t.error("initial_version", f"not a version {initial_version!r} (e.g. '1.2.3')")
    binary_name = t.string("binary_name", "storagenode")
    if not binary_name or "/" in binary_name or "\\" in binary_name or binary_name in (".", ".."):
        raise t.error("binary_name", f"must be a plain file name, got {binary_name!r}")
    stop_signal = t.string("stop_signal", "SIGINT").upper()
    stop_signal = stop_signal.removesuffix("_EVENT")
    if not stop_signal.startswith(("SIG", "CTRL_")):
        stop_signal = "SIG" + stop_signal
    if stop_signal not in STOP_SIGNALS:
        raise t.error(
            "stop_signal",
            f"unknown signal {t.get('stop_signal')!r} (e.g. 'SIGINT', 'SIGTERM'; Windows: 'CTRL_BREAK')",
        )
    health_interval = t.duration("health_interval", 30.0, positive=True)
    health_timeout = t.duration("health_timeout", 10.0, positive=True)
    if health_timeout > health_interval:
        raise t.error("health_timeout", "must not be longer than node.health_interval")
    restart_delay = t.duration("restart_delay", 0.1)
    restart_delay_max = t.duration("restart_delay_max", 300.0, positive=True)
    if restart_delay > restart_delay_max:
        raise t.error("restart_delay", "must not be longer than node.restart_delay_max")
    return NodeConfig(
        command=tuple(command),
        binary_name=binary_name,
        initial_binary=t.path("initial_binary"),
        initial_version=initial_version,
        workdir=t.path("workdir"),
        env=types.MappingProxyType(t.string_table("env")),
        stop_signal=stop_signal,
        stop_timeout=t.duration("stop_timeout", 30.0, positive=True),
        health_url=t.url("health_url", allow_http=True),
        health_interval=health_interval,
        health_timeout=health_timeout,
        health_failures=t.integer("health_failures", 3, minimum=1),
        restart_delay=restart_delay,
        restart_delay_max=restart_delay_max,
        stable_after=t.duration("stable_after", 600.0, positive=True),
        crash_loop_restarts=t.integer("crash_loop_restarts", 10, minimum=1),
        crash_loop_window=t.duration("crash_loop_window", 600.0, positive=True),
    )


def _limits(t: _Table) -> LimitsConfig:
    t.check_keys(("memory_max", "cpu_max", "nice"))
    memory_max = t.optional_size("memory_max")
    if memory_max is not None and memory_max < MIN_MEMORY_MAX:
        raise t.error("memory_max", f"{format_size(memory_max)} is too small (at least 16 MiB)")
    cpu_max = t.optional_number("cpu_max")
    if cpu_max is not None and cpu_max <= 0:
        raise t.error("cpu_max", f"must be a positive number of CPU cores, got {cpu_max!r}")
    nice = t.optional_integer("nice")
    if nice is not None and not -20 <= nice <= 19:
        raise t.error("nice", f"must be between -20 and 19, got {nice}")
    return LimitsConfig(memory_max=memory_max, cpu_max=cpu_max, nice=nice)


def _updates(t: _Table) -> UpdatesConfig:
    t.check_keys(tuple(f.name for f in fields(UpdatesConfig)))
    source = t.string("source", "storj")
    if source not in UPDATE_SOURCES:
        raise t.error("source", f"unknown source {source!r} (use 'tuf', 'storj' or 'github')")
    trusted_root = t.path("trusted_root")
    if source == "tuf" and trusted_root is None:
        raise t.error(
            "trusted_root", "required when updates.source is 'tuf' (the repository's root.json)"
        )
    allow_http = t.boolean("allow_http", False)
    url = t.url("url", allow_http=allow_http)
    if url is None:
        if source not in DEFAULT_UPDATE_URLS:
            raise t.error("url", f"required when updates.source is {source!r}")
        url = DEFAULT_UPDATE_URLS[source]
    process = t.string("process", "storagenode")
    if not process or not _REPOSITORY.fullmatch(f"x/{process}"):
        raise t.error("process", f"not a process name {process!r}")
    repository = t.string("repository", "storj/storj")
    if not _REPOSITORY.fullmatch(repository):
        raise t.error("repository", f"must be 'owner/name', got {repository!r}")
    public_key = t.optional_string("public_key")
    if public_key is not None and not _HEX64.fullmatch(public_key):
        raise t.error("public_key", "must be an ed25519 public key as 64 hex characters")
    node_id = t.optional_string("node_id")
    if node_id is not None and not _valid_node_id(node_id):
        raise t.error("node_id", f"not a node ID {node_id!r} (base58 or hex, 16-128 characters)")
    interval = t.duration("interval", 43200.0, positive=True)
    jitter = t.duration("jitter", 3600.0)
    if jitter >= interval:
        raise t.error("jitter", "must be shorter than updates.interval")
    return UpdatesConfig(
        enabled=t.boolean("enabled", True),
        source=source,
        url=url,
        trusted_root=trusted_root,
        process=process,
        repository=repository,
        public_key=public_key.lower() if public_key else None,
        interval=interval,
        jitter=jitter,
        startup_delay=t.duration("startup_delay", 300.0),
        probation=t.duration("probation", 300.0, positive=True),
        keep_versions=t.integer("keep_versions", 3, minimum=2),
        node_id=node_id,
        min_free_space=t.size("min_free_space", GiB),
        allow_http=allow_http,
    )


def _logs(t: _Table, data_dir: Path) -> LogsConfig:
    t.check_keys(tuple(f.name for f in fields(LogsConfig)))
    max_file_size = t.size("max_file_size", 10 * MiB)
    if max_file_size < MIN_LOG_FILE_SIZE:
        raise t.error(
            "max_file_size", f"{format_size(max_file_size)} is too small (at least 4 KiB)"
        )
    max_total_size = t.size("max_total_size", GiB)
    if max_total_size < max_file_size:
        raise t.error("max_total_size", "must not be smaller than logs.max_file_size")
    return LogsConfig(
        dir=t.path("dir") or data_dir / "logs",
        max_file_size=max_file_size,
        max_total_size=max_total_size,
        max_age=t.duration("max_age", 30 * DAY, positive=True),
        compress=t.boolean("compress", True),
    )


def _notify(t: _Table) -> NotifyConfig:
    t.check_keys(("webhook_url",))
    return NotifyConfig(webhook_url=t.url("webhook_url", allow_http=True))


def _paths(t: _Table, defaults: paths.DefaultPaths) -> PathsConfig:
    t.check_keys(("data_dir", "socket"))
    data_dir = t.path("data_dir") or Path(str(defaults.data_dir))
    socket = t.optional_string("socket")
    if socket is None:
        socket = defaults.socket
    elif not socket:
        raise t.error("socket", "must not be empty")
    elif "\0" in socket:
        raise t.error("socket", "must not contain a NUL character")
    elif not socket.startswith(paths.WINDOWS_PIPE_PREFIX):
        socket = str(t.resolve(socket))
    os_name = paths.current_os()
    if os_name == "windows":
        if not socket.startswith(paths.WINDOWS_PIPE_PREFIX) or len(socket) > 256:
            raise t.error(
                "socket", f"must be a named pipe like \\\\.\\pipe\\nodekeeper-NAME, got {socket!r}"
            )
    else:
        if socket.startswith(paths.WINDOWS_PIPE_PREFIX):
            raise t.error("socket", "named pipes exist only on Windows; use a file path")
        limit = paths.max_socket_path_bytes(os_name)
        length = len(socket.encode())
        if limit is not None and length > limit:
            hint = "" if t.get("socket") is not None else " (the default here; set paths.socket)"
            raise t.error(
                "socket",
                f"path is {length} bytes, the OS allows at most {limit} for a socket: {socket}{hint}",
            )
    return PathsConfig(data_dir=data_dir, socket=socket)


def _valid_node_id(value: str) -> bool:
    if not _NODE_ID.fullmatch(value):
        return False
    chars = set(value)
    return chars <= _BASE58 or chars <= _HEX


# --- one table of the file ----------------------------------------------------

_T = TypeVar("_T")


class _Table:
    """Typed access to one TOML table, with errors naming ``file: dotted.key``."""

    def __init__(self, data: Mapping[str, Any], prefix: str, source: Path) -> None:
        self._data = data
        self._prefix = prefix
        self._source = source

    def key_name(self, key: str) -> str:
        # Quote keys TOML would quote, so odd ones (with newlines) stay on one line.
        shown = key if _BARE_KEY.fullmatch(key) else json.dumps(key)
        return f"{self._prefix}.{shown}" if self._prefix else shown

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self._source}: {self.key_name(key)}: {problem}")

    def get(self, key: str) -> Any:
        return self._data.get(key)

    def check_keys(self, known: tuple[str, ...]) -> None:
        for key in self._data:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                hint = f" (did you mean {self.key_name(close[0])!r}?)" if close else ""
                raise self.error(key, f"unknown key{hint}")

    def table(self, key: str, required: bool = False) -> _Table:
        value = self._data.get(key)
        if value is None:
            if required:
                raise self.error(key, f"missing section [{self.key_name(key)}]")
            value = {}
        if not isinstance(value, dict):
            raise self.error(key, f"must be a table, got {_describe(value)}")
        return _Table(value, self.key_name(key), self._source)

    def _typed(self, key: str, check: Callable[[Any], bool], wanted: str) -> Any:
        value = self._data.get(key)
        if value is not None and not check(value):
            raise self.error(key, f"must be {wanted}, got {_describe(value)}")
        return value

    def optional_string(self, key: str) -> str | None:
        value: str | None = self._typed(key, lambda v: isinstance(v, str), "a string")
        return value

    def string(self, key: str, default: str) -> str:
        value = self.optional_string(key)
        return default if value is None else value

    def boolean(self, key: str, default: bool) -> bool:
        value: bool | None = self._typed(key, lambda v: isinstance(v, bool), "true or false")
        return default if value is None else value

    def optional_integer(self, key: str) -> int | None:
        value: int | None = self._typed(
            key, lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"
        )
        return value

    def integer(self, key: str, default: int, minimum: int) -> int:
        value = self.optional_integer(key)
        if value is None:
            return default
        if value < minimum:
            raise self.error(key, f"must be at least {minimum}, got {value}")
        return value

    def optional_number(self, key: str) -> float | None:
        value = self._typed(
            key, lambda v: isinstance(v, int | float) and not isinstance(v, bool), "a number"
        )
        if value is not None and not math.isfinite(value):
            raise self.error(key, f"must be a finite number, got {value!r}")
        return None if value is None else float(value)

    def duration(self, key: str, default: float, positive: bool = False) -> float:
        value = self._data.get(key)
        if value is None:
            return default
        seconds = self._parse(key, parse_duration, value)
        if seconds < 0:
            raise self.error(key, f"negative duration {_show(value)}")
        if positive and seconds == 0:
            raise self.error(key, f"must be longer than zero, got {_show(value)}")
        return seconds

    def optional_size(self, key: str) -> int | None:
        value = self._data.get(key)
        if value is None:
            return None
        size = self._parse(key, parse_size, value)
        if size < 0:
            raise self.error(key, f"negative size {_show(value)}")
        return size

    def size(self, key: str, default: int) -> int:
        size = self.optional_size(key)
        return default if size is None else size

    def _parse(self, key: str, parse: Callable[[object], _T], value: object) -> _T:
        try:
            return parse(value)
        except ValueError as exc:
            raise self.error(key, str(exc)) from None

    def string_list(self, key: str, required: bool = False) -> list[str]:
        value = self._data.get(key)
        if value is None:
            if required:
                raise self.error(key, "missing (required)")
            return []
        if not isinstance(value, list):
            raise self.error(key, f"must be a list of strings, got {_describe(value)}")
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise self.error(key, f"element {index} must be a string, got {_describe(item)}")
            if "\0" in item:
                raise self.error(key, f"element {index} must not contain a NUL character")
        return list(value)

    def string_table(self, key: str) -> dict[str, str]:
        table = self.table(key)
        result: dict[str, str] = {}
        for name, value in table.items():
            if not name or "=" in name or "\0" in name:
                raise table.error(name, "not a valid environment variable name")
            if not isinstance(value, str):
                raise table.error(name, f"must be a string, got {_describe(value)}")
            if "\0" in value:
                raise table.error(name, "must not contain a NUL character")
            result[name] = value
        return result

    def items(self) -> Iterator[tuple[str, Any]]:
        return iter(self._data.items())

    def resolve(self, text: str) -> Path:
        path = Path(text).expanduser()
        return path if path.is_absolute() else self._source.parent / path

    def path(self, key: str) -> Path | None:
        value = self.optional_string(key)
        if value is None:
            return None
        if not value.strip():
            raise self.error(key, "must not be empty")
        if "\0" in value:
            raise self.error(key, "must not contain a NUL character")
        return self.resolve(value)

    def url(self, key: str, allow_http: bool) -> str | None:
        value = self.optional_string(key)
        if value is None:
            return None
        try:
            parts = urlsplit(value)
            host = parts.hostname
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            raise self.error(key, f"not a valid URL {value!r} ({exc})") from None
        schemes = ("https", "http") if allow_http else ("https",)
        if parts.scheme not in schemes:
            if parts.scheme == "http":
                raise self.error(
                    key, f"must use https (set updates.allow_http for tests), got {value!r}"
                )
            raise self.error(key, f"must be an {' or '.join(schemes)} URL, got {value!r}")
        if not host:
            raise self.error(key, f"URL has no host: {value!r}")
        return value


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    return type(value).__name__


def _show(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)


# --- writing ------------------------------------------------------------------


def config_to_dict(config: Config) -> dict[str, Any]:
    """The TOML data that :func:`config_from_dict` turns back into ``config``.

    Durations are written as seconds and sizes as bytes; unset optional keys
    are left out.
    """
    result: dict[str, Any] = {"instance": config.instance}
    for section in ("node", "limits", "updates", "logs", "notify", "paths"):
        table: dict[str, Any] = {}
        obj = getattr(config, section)
        for f in fields(obj):
            value = getattr(obj, f.name)
            if value is None:
                continue
            if isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            table[f.name] = value
        if table:
            result[section] = table
    return result


def config_to_toml(config: Config) -> str:
    """A TOML document for ``config`` (used by the demo and tests to write files)."""
    data = config_to_dict(config)
    lines = [f"instance = {_toml_value(data.pop('instance'))}"]
    for section, table in data.items():
        lines.append("")
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in table.items())
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # A JSON string is a valid TOML basic string (same escapes, \uXXXX included).
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")
