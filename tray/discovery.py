"""Which cores the tray talks to: configured ones plus every socket it can find.

Sources, in order: ``--config FILE`` (the socket from ``[paths].socket``,
the dashboard derived from ``[node].health_url``), ``--socket PATH``, then
every core socket in the default socket folders, found by
:mod:`nodekeeper.core.discovery` (which `nodekeeper status` uses too).
Duplicates are dropped, the first source wins. This module only reads
files and lists folders; it never connects.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from nodekeeper.core import discovery as core_discovery
from nodekeeper.core.config import load_config
from nodekeeper.core.discovery import PIPE_PREFIX, FoundSocket, socket_key, socket_name
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


def _endpoint(found: FoundSocket) -> Endpoint:
    return Endpoint(found.socket, found.name, origin=found.origin)


def scan_pipes(names: Iterable[str], prefix: str = PIPE_PREFIX) -> list[Endpoint]:
    """Windows: cores listen on named pipes ``nodekeeper-<instance>``."""
    return [_endpoint(f) for f in core_discovery.scan_pipes(names, prefix)]


def scan_socket_dirs(dirs: Iterable[str]) -> list[Endpoint]:
    return [_endpoint(f) for f in core_discovery.scan_socket_dirs(dirs)]


def default_socket_dirs() -> tuple[str, ...]:
    return core_discovery.default_socket_dirs()


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
    endpoints += [Endpoint(s, socket_name(s), origin="--socket") for s in sockets]
    dirs = default_socket_dirs() if socket_dirs is None else socket_dirs
    endpoints += scan_socket_dirs(dirs)
    unique: dict[str, Endpoint] = {}
    for endpoint in endpoints:
        key = socket_key(endpoint.socket)
        if dashboard_url:
            endpoint = Endpoint(endpoint.socket, endpoint.name, dashboard_url, endpoint.origin)
        unique.setdefault(key, endpoint)
    return list(unique.values()), problems
