"""What the tray knows about each core instance, and what it shows for it (pure).

The connection layer feeds hello messages, status objects (DESIGN.md §6)
and events (§8) in; this module turns them into immutable
:class:`InstanceModel` values and derives everything visible from them:
icon state, status line, tooltip, menu items and notifications. It never
touches Qt, sockets or a clock: time is an argument.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from nodekeeper.core.supervise.lifecycle import STATES, NodeState, Severity
from nodekeeper.core.supervise.words import last_exit_sentence, progress_sentence
from nodekeeper.tray.throttle import UNREACHABLE, Notification

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
_BUSY_UPDATE_STATES = frozenset({"downloading", "installing", "probation", "rolling-back"})


class BadStatus(ValueError):
    """A status object from a core does not have the contract's shape."""


class IconState(StrEnum):
    OK = "ok"
    BUSY = "busy"
    ATTENTION = "attention"
    ERROR = "error"


# Worst first: the tray icon shows the worst state of all instances.
_SEVERITY = {IconState.ERROR: 3, IconState.ATTENTION: 2, IconState.BUSY: 1, IconState.OK: 0}


@dataclass(frozen=True)
class UpdateProgress:
    """An update being downloaded: the version and how far (0-100)."""

    version: str | None
    percent: int


def _percent(done: object, total: object) -> int | None:
    if not isinstance(done, int) or not isinstance(total, int) or total <= 0:
        return None
    return max(0, min(100, done * 100 // total))


class Connection(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    UNREACHABLE = "unreachable"


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
    """Validate a status object (DESIGN.md §6); raise :class:`BadStatus` naming the field."""
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
    )


def _download_percent(updates: Mapping[str, Any]) -> int | None:
    progress = updates.get("progress")
    if not isinstance(progress, Mapping):
        return None
    return _percent(progress.get("bytes"), progress.get("total"))


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


def _older(a: str | None, b: str | None) -> bool:
    ka, kb = version_key(a or ""), version_key(b or "")
    return ka is not None and kb is not None and ka < kb


@dataclass(frozen=True)
class InstanceModel:
    """One core as the tray sees it. ``key`` is the socket path and never changes."""

    key: str
    name: str
    connection: Connection = Connection.CONNECTING
    since: float = 0.0
    can_control: bool = False
    status: NodeStatus | None = None
    dashboard_url: str = ""
    # An update in progress (from update-* events and the status).
    progress: UpdateProgress | None = None
    # Why the last update failed or was rolled back, kept after the status
    # moves on (the status only shows the last check's error).
    last_failure: str | None = None

    def connected(self, hello: Mapping[str, Any], now: float) -> InstanceModel:
        name = hello.get("instance")
        return replace(
            self,
            connection=Connection.CONNECTED,
            since=now,
            can_control=hello.get("can_control") is True,
            name=name if isinstance(name, str) and name else self.name,
        )

    def lost(self, now: float) -> InstanceModel:
        if self.connection is Connection.UNREACHABLE:
            return self
        return replace(self, connection=Connection.UNREACHABLE, since=now)

    def with_status(self, status: NodeStatus) -> InstanceModel:
        progress = self.progress
        if status.updates_state not in _BUSY_UPDATE_STATES:
            progress = None
        elif status.download_percent is not None:
            version = progress.version if progress is not None else None
            progress = UpdateProgress(version, status.download_percent)
        return replace(self, status=status, name=status.instance or self.name, progress=progress)

    def with_event(self, kind: str, data: Mapping[str, Any]) -> InstanceModel:
        """Apply what an event tells directly; the caller refreshes the full status too."""
        model = self._with_update_event(kind, data)
        if model.status is None:
            return model
        if kind == "updates-toggled" and isinstance(data.get("enabled"), bool):
            return replace(model, status=replace(model.status, updates_enabled=data["enabled"]))
        return model

    def _with_update_event(self, kind: str, data: Mapping[str, Any]) -> InstanceModel:
        if kind == "update-started":
            return replace(self, progress=UpdateProgress(_text(data, "to"), 0))
        if kind == "update-progress":
            percent = _percent(data.get("bytes"), data.get("total"))
            version = _text(data, "version")
            if version is None and self.progress is not None:
                version = self.progress.version
            return replace(self, progress=UpdateProgress(version, percent or 0))
        if kind == "update-installed":
            return replace(self, progress=None)
        if kind == "update-failed":
            version = _text(data, "version")
            text = f"update to {version} failed" if version else "update failed"
            reason = _text(data, "reason")
            return replace(
                self, progress=None, last_failure=text + (f": {reason}" if reason else "")
            )
        if kind == "rolled-back":
            text = f"rolled back from {_text(data, 'from')} to {_text(data, 'to')}"
            reason = _text(data, "reason")
            return replace(
                self, progress=None, last_failure=text + (f": {reason}" if reason else "")
            )
        return self

    @property
    def update_available(self) -> bool:
        s = self.status
        return s is not None and _older(s.node_version, s.suggested)

    @property
    def below_minimum(self) -> bool:
        s = self.status
        return s is not None and _older(s.node_version, s.minimum)


def icon_state(model: InstanceModel) -> IconState:
    if model.connection is Connection.UNREACHABLE:
        return IconState.ERROR
    s = model.status
    if s is None:
        return IconState.BUSY  # connecting: never flash an error at login
    severity = STATES[s.node_state].severity
    if severity is Severity.BUSY or s.updates_state in _BUSY_UPDATE_STATES:
        return IconState.BUSY
    if (
        severity is Severity.ATTENTION
        or model.below_minimum
        or (model.update_available and not s.updates_enabled)
        or s.updates_state == "error"
        or (s.healthy is False and s.node_state is NodeState.RUNNING)
    ):
        return IconState.ATTENTION
    return IconState.OK


def overall_icon_state(models: Sequence[InstanceModel]) -> IconState:
    if not models:
        return IconState.ERROR
    return max((icon_state(m) for m in models), key=_SEVERITY.__getitem__)


def format_uptime(seconds: float) -> str:
    if seconds < 60:
        return f"{int(seconds)} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} d"


def status_line(model: InstanceModel) -> str:
    """The disabled first menu line, e.g. "Node v1.2.3 — running, up 3 d"."""
    if model.connection is Connection.UNREACHABLE:
        return "Core not reachable — retrying"
    s = model.status
    if s is None:
        return "Connecting…"
    version = f"v{s.node_version.removeprefix('v')}" if s.node_version else "version unknown"
    state = "stopped by operator" if _stopped_by_operator(s) else str(s.node_state)
    line = f"Node {version} — {state}"
    if model.progress is not None:
        target = model.progress.version
        to = f" to v{target.removeprefix('v')}" if target else ""
        return f"{line}, updating{to}: {model.progress.percent} %"
    if s.node_state is NodeState.RUNNING and s.uptime_s is not None:
        line += f", up {format_uptime(s.uptime_s)}"
    return line


def _stopped_by_operator(s: NodeStatus) -> bool:
    return s.stopped_by_operator and s.node_state is NodeState.STOPPED


def attention_reason(model: InstanceModel) -> str | None:
    """Why the instance needs attention, in the operator's words (None if it does not)."""
    s = model.status
    if s is None or model.connection is not Connection.CONNECTED:
        return None
    node = STATES[s.node_state]
    if _stopped_by_operator(s):
        return "the node is stopped by the operator; 'nodekeeper start' starts it"
    if node.severity is Severity.ATTENTION:
        if s.last_exit and s.node_state is NodeState.CRASH_LOOPING:
            return f"{node.wording}; last exit: {s.last_exit}"
        return node.wording
    if model.below_minimum:
        return f"version below the network minimum {s.minimum}"
    if model.update_available and not s.updates_enabled:
        return f"update {s.suggested} available, automatic updates are off"
    if s.updates_state == "error":
        return f"update check failed: {s.last_error}" if s.last_error else "update check failed"
    if s.healthy is False and s.node_state is NodeState.RUNNING:
        return "the node does not answer its health check"
    return None


def tooltip(models: Sequence[InstanceModel]) -> str:
    if not models:
        return "nodekeeper — no core found"
    lines = ["nodekeeper"]
    for m in models:
        line = status_line(m)
        if m.status is not None and m.connection is Connection.CONNECTED:
            line += ", updates " + ("on" if m.status.updates_enabled else "off")
        reason = attention_reason(m)
        if reason:
            line += f" ({reason})"
        lines.append(f"{m.name}: {line}" if len(models) > 1 else line)
        lines.extend("  " + words for words in _details(m, reason))
        # Events keep the reason even when the core's status does not carry it.
        if m.last_failure and not (m.status is not None and m.status.last_failure):
            lines.append(f"  last problem: {m.last_failure}")
    return "\n".join(lines)


def _details(model: InstanceModel, reason: str | None) -> list[str]:
    """The tooltip's lines under an instance: progress, last exit, last update failure."""
    s = model.status
    if s is None or model.connection is not Connection.CONNECTED:
        return []
    details = [s.progress] if s.progress else []
    if s.last_exit and s.node_state is not NodeState.RUNNING and s.last_exit not in (reason or ""):
        details.append(f"last exit: {s.last_exit}")
    if s.last_failure and s.last_failure not in (reason or ""):
        details.append(f"last update failure: {s.last_failure}")
    return details


@dataclass(frozen=True)
class MenuItem:
    key: str
    text: str
    enabled: bool = True
    checkable: bool = False
    checked: bool = False
    tooltip: str = ""


READ_ONLY_HINT = (
    "Read-only connection: only root, the service user or group 'nodekeeper' may change this"
)


def _last_problem(model: InstanceModel) -> str:
    return f"Last problem: {model.last_failure}" if model.last_failure else ""


def instance_items(model: InstanceModel) -> list[MenuItem]:
    """The per-instance part of the menu, top to bottom."""
    connected = model.connection is Connection.CONNECTED and model.status is not None
    control = connected and model.can_control
    hint = "" if control else (READ_ONLY_HINT if connected else "Core not connected")
    enabled = model.status.updates_enabled if model.status is not None else False
    logs_dir = model.status.logs_dir if model.status is not None else None
    updates_text = (
        "Automatic updates" if control or not connected else "Automatic updates (read-only)"
    )
    return [
        MenuItem(
            "status",
            status_line(model),
            enabled=False,
            tooltip=attention_reason(model) or _last_problem(model),
        ),
        MenuItem("updates", updates_text, control, True, enabled, hint),
        MenuItem("check", "Check for updates now", control, tooltip=hint),
        MenuItem("restart", "Restart node", control, tooltip=hint),
        MenuItem(
            "dashboard", "Open dashboard", bool(model.dashboard_url), tooltip=model.dashboard_url
        ),
        MenuItem("logs", "Open logs folder", bool(logs_dir), tooltip=logs_dir or ""),
    ]


def _text(data: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def notification_for_event(
    model: InstanceModel, kind: str, data: Mapping[str, Any]
) -> Notification | None:
    """The notification an event deserves, or None (most events are silent)."""
    name = model.name
    version = _text(data, "version", "to", "target")
    reason = _text(data, "reason", "error", "message")
    suffix = f": {reason}" if reason else ""
    if kind == "update-installed":
        text = f"Node updated to {version}" if version else "Node updated"
        return Notification(kind, f"{name} updated", text, model.key, "dashboard")
    if kind == "update-failed":
        text = (f"Update to {version} failed" if version else "Update failed") + suffix
        return Notification(kind, f"{name}: update failed", text, model.key, "logs")
    if kind == "rolled-back":
        back = _text(data, "to", "version", "previous")
        bad = _text(data, "from", "quarantined", "failed")
        text = f"Rolled back to {back}" if back else "Rolled back to the previous version"
        text += f" ({bad} did not run healthily)" if bad else suffix
        return Notification(kind, f"{name} rolled back", text, model.key, "logs")
    if kind == "crash-loop":
        exits, window = data.get("exits"), data.get("window_s")
        text = "The node crashed repeatedly"
        if isinstance(exits, int) and isinstance(window, int | float) and window > 0:
            text = f"The node crashed {exits} times within {format_uptime(float(window))}"
        return Notification(
            kind,
            f"{name} keeps crashing",
            text + suffix,
            model.key,
            "logs",
        )
    if kind == "update-available":
        enabled = model.status.updates_enabled if model.status is not None else True
        if enabled:
            return None
        text = f"Version {version} is available" if version else "An update is available"
        return Notification(
            kind,
            f"{name}: update available",
            text + "; automatic updates are off",
            model.key,
            "dashboard",
        )
    return None


def unreachable_notification(model: InstanceModel) -> Notification:
    return Notification(
        UNREACHABLE,
        f"{model.name}: core not reachable",
        "nodekeeper cannot reach the core; the node may be unsupervised. Retrying.",
        model.key,
        "logs",
    )
