"""One core as the tray sees it: an immutable `InstanceModel` and its icon state (pure).

The connection layer feeds hello messages, status objects and events
(docs/contract.md, Control socket) in; each returns a new model. :func:`icon_state` derives the icon from a
model, worst of all instances first. Time is an argument, never read here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from nodekeeper.core.supervise.lifecycle import STATES, NodeState, Severity
from nodekeeper.tray.status import BUSY_UPDATE_STATES, NodeStatus, percent, version_key


class IconState(StrEnum):
    OK = "ok"
    BUSY = "busy"
    ATTENTION = "attention"
    ERROR = "error"


# Worst first: the tray icon shows the worst state of all instances.
_SEVERITY = {IconState.ERROR: 3, IconState.ATTENTION: 2, IconState.BUSY: 1, IconState.OK: 0}


class Connection(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class UpdateProgress:
    """An update being downloaded: the version and how far (0-100)."""

    version: str | None
    percent: int


def _older(a: str | None, b: str | None) -> bool:
    ka, kb = version_key(a or ""), version_key(b or "")
    return ka is not None and kb is not None and ka < kb


def first_text(data: Mapping[str, Any], *keys: str) -> str | None:
    """The first of an event's ``keys`` that holds a non-empty string."""
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return None


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
        if status.updates_state not in BUSY_UPDATE_STATES:
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
            if data.get("part") == "core":
                core = model.status.core_updates
                if core is None:
                    return model
                toggled = replace(core, enabled=data["enabled"])
                return replace(model, status=replace(model.status, core_updates=toggled))
            return replace(model, status=replace(model.status, updates_enabled=data["enabled"]))
        return model

    def _with_update_event(self, kind: str, data: Mapping[str, Any]) -> InstanceModel:
        if kind == "update-started":
            return replace(self, progress=UpdateProgress(first_text(data, "to"), 0))
        if kind == "update-progress":
            done = percent(data.get("bytes"), data.get("total"))
            version = first_text(data, "version")
            if version is None and self.progress is not None:
                version = self.progress.version
            return replace(self, progress=UpdateProgress(version, done or 0))
        if kind == "update-installed":
            return replace(self, progress=None)
        if kind == "update-failed":
            version = first_text(data, "version")
            text = f"update to {version} failed" if version else "update failed"
            reason = first_text(data, "reason")
            return replace(
                self, progress=None, last_failure=text + (f": {reason}" if reason else "")
            )
        if kind == "rolled-back":
            text = f"rolled back from {first_text(data, 'from')} to {first_text(data, 'to')}"
            reason = first_text(data, "reason")
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
    if severity is Severity.BUSY or s.updates_state in BUSY_UPDATE_STATES:
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
