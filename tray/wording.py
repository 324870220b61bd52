"""What the tray shows for a core in words: status line, tooltip, menu, notifications (pure).

Everything visible is derived from :class:`~nodekeeper.tray.instance.InstanceModel`
values; nothing here touches Qt or a clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nodekeeper.core.supervise.lifecycle import STATES, NodeState, Severity
from nodekeeper.core.supervise.words import duration
from nodekeeper.tray.instance import Connection, InstanceModel, first_text
from nodekeeper.tray.status import CoreUpdates, NodeStatus
from nodekeeper.tray.throttle import UNREACHABLE, Notification


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
        line += f", up {duration(s.uptime_s)}"
    return line


def core_line(model: InstanceModel) -> str | None:
    """The core's version and its own update state, e.g. "Core v0.2.0 — updates on, idle"."""
    s = model.status
    if s is None or not s.core_version:
        return None
    line = f"Core v{s.core_version.removeprefix('v')}"
    core = s.core_updates
    if core is None:
        return line
    line += " — updates " + ("on" if core.enabled else "off")
    if core.state not in ("idle", "disabled"):
        line += f", {core.state}"
    if core.latest and core.latest.removeprefix("v") != s.core_version.removeprefix("v"):
        line += f", v{core.latest.removeprefix('v')} available"
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
            core = core_line(m) if m.status.core_updates is not None else None
            if core:
                line += f"; {core}"
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
    core = model.status.core_updates if model.status is not None else None
    items = [
        MenuItem(
            "status",
            status_line(model),
            enabled=False,
            tooltip=attention_reason(model) or _last_problem(model),
        )
    ]
    line = core_line(model) if connected and core is not None else None
    if line:
        items.append(MenuItem("core", line, enabled=False, tooltip=_core_problem(core)))
    items.append(MenuItem("updates", updates_text, control, True, enabled, hint))
    if core is not None:
        core_text = "Automatic core updates" + ("" if control else " (read-only)")
        items.append(MenuItem("self-updates", core_text, control, True, core.enabled, hint))
    return [
        *items,
        MenuItem("check", "Check for updates now", control, tooltip=hint),
        MenuItem("restart", "Restart node", control, tooltip=hint),
        MenuItem(
            "dashboard", "Open dashboard", bool(model.dashboard_url), tooltip=model.dashboard_url
        ),
        MenuItem("logs", "Open logs folder", bool(logs_dir), tooltip=logs_dir or ""),
    ]


def _core_problem(core: CoreUpdates | None) -> str:
    if core is None or not core.last_error:
        return ""
    return f"Last core update problem: {core.last_error}"


def notification_for_event(
    model: InstanceModel, kind: str, data: Mapping[str, Any]
) -> Notification | None:
    """The notification an event deserves, or None (most events are silent)."""
    name = model.name
    version = first_text(data, "version", "to", "target")
    reason = first_text(data, "reason", "error", "message")
    suffix = f": {reason}" if reason else ""
    if kind == "update-installed":
        text = f"Node updated to {version}" if version else "Node updated"
        return Notification(kind, f"{name} updated", text, model.key, "dashboard")
    if kind == "update-failed":
        text = (f"Update to {version} failed" if version else "Update failed") + suffix
        return Notification(kind, f"{name}: update failed", text, model.key, "logs")
    if kind == "rolled-back":
        back = first_text(data, "to", "version", "previous")
        bad = first_text(data, "from", "quarantined", "failed")
        text = f"Rolled back to {back}" if back else "Rolled back to the previous version"
        text += f" ({bad} did not run healthily)" if bad else suffix
        return Notification(kind, f"{name} rolled back", text, model.key, "logs")
    if kind == "crash-loop":
        exits, window = data.get("exits"), data.get("window_s")
        text = "The node crashed repeatedly"
        if isinstance(exits, int) and isinstance(window, int | float) and window > 0:
            text = f"The node crashed {exits} times within {duration(float(window))}"
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


def check_result_text(result: Any) -> str:
    """What a "check for updates now" answer says, for its notification."""
    text = "Checked for updates"
    if isinstance(result, dict):
        action, target, reason = (
            result.get("action"),
            result.get("target"),
            result.get("reason"),
        )
        text = {
            "none": "The node is up to date",
            "update": f"Updating to {target}",
            "rollback": f"Rolling back to {target}",
            "notify": f"Update {target} available; automatic updates are off",
        }.get(str(action), text)
        if isinstance(reason, str) and reason and action != "none":
            text += f" ({reason})"
    return text
