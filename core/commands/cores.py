"""Every core on this machine: `nodekeeper status` without a target, and `--version`.

Cores are found by their sockets (:mod:`nodekeeper.core.discovery`) and
asked for their status, one line each, in columns like ``supervisorctl
status``. The formatting is pure; asking is one short connection per core.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nodekeeper.core.commands.client import humanize_duration
from nodekeeper.core.errors import CoreUnreachable, NodekeeperError

# Environment variable naming the config file when no --config is given.
CONFIG_ENV = "NODEKEEPER_CONFIG"
ASK_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class CoreRow:
    name: str
    state: str
    version: str
    detail: str
    updates: str


def status_row(name: str, status: Mapping[str, Any]) -> CoreRow:
    """One core's line from its status object (odd or missing fields show as '?')."""
    node = status.get("node") if isinstance(status.get("node"), dict) else {}
    updates = status.get("updates") if isinstance(status.get("updates"), dict) else {}
    assert isinstance(node, dict) and isinstance(updates, dict)
    bits = []
    if node.get("pid") is not None:
        bits.append(f"pid {node.get('pid')}")
    uptime = node.get("uptime_s")
    if isinstance(uptime, (int, float)) and not isinstance(uptime, bool):
        bits.append(f"uptime {humanize_duration(float(uptime))}")
    if node.get("healthy") is False:
        bits.append("NOT healthy")
    if node.get("stopped_by_operator") is True:
        bits.append("stopped by operator")
    enabled = updates.get("enabled")
    switch = "on" if enabled is True else "off" if enabled is False else "?"
    return CoreRow(
        name=str(status.get("instance") or name),
        state=str(node.get("state") or "?").upper(),
        version=str(node.get("version") or "-"),
        detail=", ".join(bits) or "-",
        updates=f"updates {switch} ({updates.get('state') or '?'})",
    )


def unreachable_row(name: str, problem: str) -> CoreRow:
    return CoreRow(name, "UNREACHABLE", "-", problem, "-")


def format_rows(rows: Sequence[CoreRow]) -> list[str]:
    """Left-aligned columns, as wide as their longest cell; the last column is not padded."""
    table = [(r.name, r.state, r.version, r.detail, r.updates) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    return [
        "   ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "   " + row[4]
        for row in table
    ]


def ask_status(socket: str) -> dict[str, Any]:
    from nodekeeper.core.ipc.client import Client

    with Client(socket, timeout=ASK_TIMEOUT_S) as client:
        status = client.call("status")
    if not isinstance(status, dict):
        raise CoreUnreachable(f"{socket}: the core sent something that is not a status object")
    return status


def list_cores(socket_dirs: Sequence[str] | None = None) -> int:
    """Print every core found; exit 3 when none is found or one does not answer."""
    from nodekeeper.core.discovery import default_socket_dirs, find_cores

    dirs = default_socket_dirs() if socket_dirs is None else tuple(socket_dirs)
    found = find_cores(dirs)
    if not found:
        raise CoreUnreachable(
            f"no core found (no control socket in {', '.join(dirs)}); start one with "
            "`nodekeeper run --config FILE`, or name it with --config, --socket or --instance"
        )
    rows = []
    unreachable = False
    for core in found:
        try:
            rows.append(status_row(core.name, ask_status(core.socket)))
        except NodekeeperError as exc:
            unreachable = True
            rows.append(unreachable_row(core.name, str(exc)))
    for line in format_rows(rows):
        print(line)
    return CoreUnreachable.exit_code if unreachable else 0


def version_lines(version: str) -> list[str]:
    """``nodekeeper X``, then the node's version of each core found or configured."""
    lines = [f"nodekeeper {version}"]
    try:
        from nodekeeper.core.discovery import find_cores

        running = find_cores()
    except (NodekeeperError, OSError):
        running = []
    for core in running:
        try:
            status = ask_status(core.socket)
        except NodekeeperError:
            continue
        row = status_row(core.name, status)
        lines.append(f"storage node {row.version} (instance {row.name}, running)")
    if len(lines) == 1:
        installed = _configured_version()
        if installed is not None:
            lines.append(installed)
    return lines


def _configured_version() -> str | None:
    """The node version in state.json of NODEKEEPER_CONFIG's (or the default) config."""
    from nodekeeper.core.config import load_config
    from nodekeeper.core.paths import default_config_path
    from nodekeeper.core.state import StateStore

    path = os.environ.get(CONFIG_ENV) or str(default_config_path())
    if not os.path.isfile(path):
        return None
    try:
        config = load_config(path)
        current = StateStore(config.paths.data_dir / "state.json", config.source).load().current
    except (NodekeeperError, OSError):
        return None
    if current is None:
        return None
    return f"storage node {current} (instance {config.instance}, not running)"
