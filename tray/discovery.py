"""Which cores the tray talks to: configured ones plus every socket it can find.

Sources, in order: ``--config FILE`` (the socket from ``[paths].socket``,
the dashboard derived from ``[node].health_url``), ``--socket PATH``, then
every ``*.sock`` (and ``*/*.sock``) in the default socket folders of
``nodekeeper.core.paths``. Duplicates are dropped, the first source wins. This module
only reads files and lists folders; it never connects.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from nodekeeper.core.config import load_config
from nodekeeper.core.errors import ConfigError

DEFAULT_DASHBOARD = "http://127.0.0.1:14002/"


@dataclass(frozen=True)
class Endpoint:
    socket: str
    name: str
    dashboard_url: str = DEFAULT_DASHBOARD
    # Where it came from, for messages: a config file, "--socket" or a folder.
    origin: str = ""


def dashboard_from_health_url(health_url: str | None) -> str:
    """The node's web dashboard is served where its health endpoint is: same origin."""
    if not health_url:
        return DEFAULT_DASHBOARD
    parts = urlsplit(health_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return DEFAULT_DASHBOARD
    return f"{parts.scheme}://{parts.netloc}/"


def endpoint_from_config(path: str | Path) -> Endpoint:
    """Raise ConfigError (one line, naming the file) when the config is unusable."""
    config = load_config(path)
    return Endpoint(
        socket=config.paths.socket,
        name=config.instance,
        dashboard_url=dashboard_from_health_url(config.node.health_url),
        origin=str(path),
    )


def _socket_name(socket: str) -> str:
    name = Path(socket).name
    return name.removesuffix(".sock") or socket


def scan_pipes(names: Iterable[str], prefix: str = "\\\\.\\pipe\\") -> list[Endpoint]:
    """Windows: cores listen on named pipes ``nodekeeper-<instance>``."""
    return [
        Endpoint(prefix + name, name.removeprefix("nodekeeper-"), origin=prefix)
        for name in sorted(names)
        if name.startswith("nodekeeper-")
    ]


def scan_socket_dirs(dirs: Iterable[str]) -> list[Endpoint]:
    found: list[Endpoint] = []
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
        found += [Endpoint(str(p), _socket_name(str(p)), origin=folder) for p in candidates]
    return found


def default_socket_dirs() -> tuple[str, ...]:
    from nodekeeper.core.paths import socket_search_dirs

    return socket_search_dirs()


def discover(
    configs: Sequence[str] = (),
    sockets: Sequence[str] = (),
    socket_dirs: Sequence[str] | None = None,
    dashboard_url: str | None = None,
) -> tuple[list[Endpoint], list[str]]:
    """Every endpoint to watch, and one line per problem met on the way."""
    endpoints: list[Endpoint] = []
    problems: list[str] = []
    for config in configs:
        try:
            endpoints.append(endpoint_from_config(config))
        except ConfigError as exc:
            problems.append(str(exc))
    endpoints += [Endpoint(s, _socket_name(s), origin="--socket") for s in sockets]
    dirs = default_socket_dirs() if socket_dirs is None else socket_dirs
    endpoints += scan_socket_dirs(dirs)
    unique: dict[str, Endpoint] = {}
    for endpoint in endpoints:
        key = str(Path(endpoint.socket).resolve()) if sys.platform != "win32" else endpoint.socket
        if dashboard_url:
            endpoint = Endpoint(endpoint.socket, endpoint.name, dashboard_url, endpoint.origin)
        unique.setdefault(key, endpoint)
    return list(unique.values()), problems
