"""Reading the configuration file (docs/contract.md, Configuration): TOML in, a checked :class:`Config` out.

Each key is read by its rule in the key table (``keys.py``) with the
schema's default (``schema.py``); this module adds what ties keys together
and the defaults computed from other keys or from the OS. Anything wrong
raises :class:`~nodekeeper.core.errors.ConfigError` with one line
``"<file>: <dotted.key>: <problem>"`` before anything is started. It reads
one file and never touches the node, the network or the data dir.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nodekeeper.core import paths
from nodekeeper.core.config.keys import INSTANCE, KEYS
from nodekeeper.core.config.schema import (
    DEFAULT_INSTANCE,
    DEFAULT_UPDATE_URLS,
    SECTIONS,
    Config,
    LimitsConfig,
    LogsConfig,
    MetricsConfig,
    NodeConfig,
    NotifyConfig,
    PathsConfig,
    SelfUpdateConfig,
    UpdatesConfig,
    schema_default,
)
from nodekeeper.core.config.table import Table
from nodekeeper.core.errors import ConfigError


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
    top = Table(data, "", source)
    top.check_keys(("instance", *SECTIONS))
    instance: str = INSTANCE.read(top, "instance", DEFAULT_INSTANCE, {})
    if defaults is None:
        defaults = paths.current_defaults(instance)
    node = _node(*read_section(top, "node", required=True))
    limits = LimitsConfig(**read_section(top, "limits")[1])
    updates = _updates(*read_section(top, "updates"))
    path_config = _paths(*read_section(top, "paths"), defaults)
    logs = _logs(*read_section(top, "logs"), path_config.data_dir)
    notify = _notify(*read_section(top, "notify"))
    metrics = MetricsConfig(**read_section(top, "metrics")[1])
    self_update = _self_update(*read_section(top, "self_update"), updates)
    return Config(
        instance, node, limits, updates, logs, notify, path_config, source, metrics, self_update
    )


def read_section(top: Table, name: str, required: bool = False) -> tuple[Table, dict[str, Any]]:
    """Every key of table ``name`` read by its rule: schema default, or None where computed."""
    t = top.table(name, required=required)
    rules = KEYS[name]
    t.check_keys(rules)
    values: dict[str, Any] = {}
    for key, rule in rules.items():
        values[key] = rule.read(t, key, schema_default(SECTIONS[name], key), values)
    return t, values


def _node(t: Table, v: dict[str, Any]) -> NodeConfig:
    if v["health_timeout"] > v["health_interval"]:
        raise t.error("health_timeout", "must not be longer than node.health_interval")
    if v["restart_delay"] > v["restart_delay_max"]:
        raise t.error("restart_delay", "must not be longer than node.restart_delay_max")
    return NodeConfig(**v)


def _updates(t: Table, v: dict[str, Any]) -> UpdatesConfig:
    source = v["source"]
    if source == "tuf" and v["trusted_root"] is None:
        raise t.error(
            "trusted_root", "required when updates.source is 'tuf' (the repository's root.json)"
        )
    if t.get("url") is None:
        # The default follows the source; the schema's is the default source's.
        if source not in DEFAULT_UPDATE_URLS:
            raise t.error("url", f"required when updates.source is {source!r}")
        v["url"] = DEFAULT_UPDATE_URLS[source]
    if v["jitter"] >= v["interval"]:
        raise t.error("jitter", "must be shorter than updates.interval")
    return UpdatesConfig(**v)


def _self_update(t: Table, v: dict[str, Any], updates: UpdatesConfig) -> SelfUpdateConfig:
    """Defaults follow ``[updates]`` when it uses the same kind of source.

    Without a usable source (the node updates from Storj's version server
    and nothing is set here) the core does not update itself; a source
    the operator names here must be complete.
    """
    same = v["source"] == updates.source
    if v["url"] is None:
        if same:
            v["url"] = updates.url
        elif v["source"] == "github":
            v["url"] = DEFAULT_UPDATE_URLS["github"]
    elif v["url"].startswith("http://") and not updates.allow_http:
        raise t.error("url", f"must use https (set updates.allow_http for tests), got {v['url']!r}")
    if v["source"] == "tuf":
        if v["trusted_root"] is None and same:
            v["trusted_root"] = updates.trusted_root
        if t.get("url") is not None and v["trusted_root"] is None:
            raise t.error(
                "trusted_root",
                "required when self_update.url names a TUF repository (its root.json)",
            )
        if v["trusted_root"] is None:
            v["url"] = None
    if v["source"] == "github":
        if v["public_key"] is None:
            v["public_key"] = updates.public_key
        if v["repository"] is None:
            raise t.error("repository", "required when self_update.source is 'github'")
        if v["public_key"] is None:
            raise t.error(
                "public_key", "required when self_update.source is 'github' (the core is signed)"
            )
    return SelfUpdateConfig(**v)


def _logs(t: Table, v: dict[str, Any], data_dir: Path) -> LogsConfig:
    if v["max_total_size"] < v["max_file_size"]:
        raise t.error("max_total_size", "must not be smaller than logs.max_file_size")
    if v["dir"] is None:
        v["dir"] = data_dir / "logs"
    return LogsConfig(**v)


def _notify(t: Table, v: dict[str, Any]) -> NotifyConfig:
    if v["format"] == "telegram" and v["chat_id"] is None:
        raise t.error("chat_id", "required when notify.format is 'telegram'")
    return NotifyConfig(**v)


def _paths(t: Table, v: dict[str, Any], defaults: paths.DefaultPaths) -> PathsConfig:
    data_dir = v["data_dir"] or Path(str(defaults.data_dir))
    return PathsConfig(data_dir=data_dir, socket=_socket(t, v["socket"], defaults))


def _socket(t: Table, socket: str | None, defaults: paths.DefaultPaths) -> str:
    """The control socket: a path on POSIX (within the OS's length limit), a pipe on Windows."""
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
        return socket
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
    return socket
