"""The status object a core sends, validated into a `NodeStatus` (pure).

:func:`parse_status` checks a status object against the contract
(docs/contract.md, Status object) and raises :class:`BadStatus` naming the first field that is
missing or has the wrong type, so a core speaking another version shows as a
one-line problem instead of a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from nodekeeper.core.supervise.lifecycle import NodeState
from nodekeeper.core.supervise.words import last_exit_sentence, progress_sentence

# The node's states, their wording and severity come from the core's lifecycle
# table (a pure module: importing it starts nothing).
NODE_STATES = frozenset(str(state) for state in NodeState)
UPDATE_STATES = frozenset(
    {
        "idle",
        "checking",
        "downloading",
        "installing",
        "probation",
        "rolling-back",
        "disabled",
        "error",
    }
)
BUSY_UPDATE_STATES = frozenset({"downloading", "installing", "probation", "rolling-back"})


class BadStatus(ValueError):
    """A status object from a core does not have the contract's shape."""


def percent(done: object, total: object) -> int | None:
    """How far ``done`` is through ``total`` (0-100), None unless both are counts."""
    if not isinstance(done, int) or not isinstance(total, int) or total <= 0:
        return None
    return max(0, min(100, done * 100 // total))


@dataclass(frozen=True)
class NodeStatus:
    instance: str
    core_version: str
    node_state: NodeState
    node_version: str | None
    uptime_s: float | None
    restarts: int
    healthy: bool | None
    updates_enabled: bool
    updates_state: str
    minimum: str | None
    suggested: str | None
    last_error: str | None
    logs_dir: str | None
    # updates.progress while downloading: percent of the artifact.
    download_percent: int | None = None
    # Extension: the operator stopped the node for maintenance (node.state "stopped").
    stopped_by_operator: bool = False
    # In words: the last exit with the node's last line, a download's progress,
    # and the last update failure (kept after a quiet check).
    last_exit: str | None = None
    progress: str | None = None
    last_failure: str | None = None
    # Extension: the core's own updates (None: a core without self-update).
    core_updates: CoreUpdates | None = None


@dataclass(frozen=True)
class CoreUpdates:
    """The status object's ``self_update`` part, what the tray shows of it."""

    enabled: bool
    state: str
    latest: str | None = None
    last_error: str | None = None


def _field(obj: Mapping[str, Any], key: str, types: type | tuple[type, ...], where: str) -> Any:
    if key not in obj:
        raise BadStatus(f"status: {where}{key} is missing")
    value = obj[key]
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in _as_tuple(types)):
        raise BadStatus(f"status: {where}{key} has the wrong type ({type(value).__name__})")
    return value


def _as_tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def _optional(obj: Mapping[str, Any], key: str, types: type | tuple[type, ...], where: str) -> Any:
    if obj.get(key) is None:
        return None
    return _field(obj, key, types, where)


def parse_status(obj: object) -> NodeStatus:
    """Validate a status object (docs/contract.md, Status object); raise :class:`BadStatus` naming the field."""
    if not isinstance(obj, Mapping):
        raise BadStatus("status: not a JSON object")
    node = _field(obj, "node", Mapping, "")
    updates = _field(obj, "updates", Mapping, "")
    logs_value = obj.get("logs")
    logs: Mapping[str, Any] = logs_value if isinstance(logs_value, Mapping) else {}
    node_state = _field(node, "state", str, "node.")
    if node_state not in NODE_STATES:
        raise BadStatus(f"status: node.state {node_state!r} is not a known state")
    updates_state = _field(updates, "state", str, "updates.")
    if updates_state not in UPDATE_STATES:
        raise BadStatus(f"status: updates.state {updates_state!r} is not a known state")
    uptime = _optional(node, "uptime_s", (int, float), "node.")
    return NodeStatus(
        instance=_field(obj, "instance", str, ""),
        core_version=str(obj.get("core_version") or ""),
        node_state=NodeState(node_state),
        node_version=_optional(node, "version", str, "node."),
        uptime_s=float(uptime) if uptime is not None else None,
        restarts=int(_optional(node, "restarts", int, "node.") or 0),
        healthy=_optional(node, "healthy", bool, "node."),
        updates_enabled=_field(updates, "enabled", bool, "updates."),
        updates_state=updates_state,
        minimum=_optional(updates, "minimum", str, "updates."),
        suggested=_optional(updates, "suggested", str, "updates."),
        last_error=_optional(updates, "last_error", str, "updates."),
        logs_dir=_optional(logs, "dir", str, "logs."),
        download_percent=_download_percent(updates),
        stopped_by_operator=_optional(node, "stopped_by_operator", bool, "node.") is True,
        last_exit=_sentence(last_exit_sentence, node.get("last_exit")),
        progress=progress_sentence(updates),
        last_failure=_failure(updates.get("last_failure")),
        core_updates=_core_updates(obj.get("self_update")),
    )


def _core_updates(value: Any) -> CoreUpdates | None:
    """The ``self_update`` part; states are shown as sent (the hand-over may add its own)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise BadStatus("status: self_update is not an object")
    return CoreUpdates(
        enabled=_field(value, "enabled", bool, "self_update."),
        state=_field(value, "state", str, "self_update."),
        latest=_optional(value, "latest", str, "self_update."),
        last_error=_optional(value, "last_error", str, "self_update."),
    )


def _download_percent(updates: Mapping[str, Any]) -> int | None:
    progress = updates.get("progress")
    if not isinstance(progress, Mapping):
        return None
    return percent(progress.get("bytes"), progress.get("total"))


def _sentence(words: Callable[[Mapping[str, Any]], str], value: Any) -> str | None:
    return words(value) if isinstance(value, Mapping) else None


def _failure(value: Any) -> str | None:
    if isinstance(value, Mapping) and isinstance(value.get("message"), str):
        return str(value["message"])
    return None


_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


def version_key(version: str) -> tuple[int, int, int, int, str] | None:
    """Sort key for a semantic version (pre-releases before the release), None if unparseable."""
    match = _VERSION.match(version.strip())
    if match is None:
        return None
    major, minor, patch, pre = match.groups()
    return (int(major), int(minor), int(patch), 0 if pre else 1, pre or "")
